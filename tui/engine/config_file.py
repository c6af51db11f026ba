"""The config file: TOML, validated with pydantic; unknown keys are errors.

A broken file becomes one ConfigError line that names the file, the key and the
problem (the CLI exits 2 on it); loading never writes anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from tui.engine.config import Config, ConfigError, Rotation, config_path, default_state_dir
from tui.engine.config_schema import FileConfig
from tui.engine.credentials import default_reference, redact_keylike


def _location(loc: tuple[int | str, ...]) -> str:
    # Key names come from the file: one that is a pasted key is masked, not echoed.
    return redact_keylike(".".join(str(part) for part in loc)) or "(top level)"


def _describe(err: dict) -> str:
    kind = err.get("type", "")
    msg = err.get("msg", "invalid")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = msg.removeprefix("Value error, ")
    return msg


def validate(data: dict, path: Path) -> Config:
    """Check a parsed TOML document; ConfigError names the first bad key."""
    try:
        parsed = FileConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        raise ConfigError(f"{path}: {_location(first['loc'])}: {_describe(first)}") from None
    rotations: dict[str, Rotation] = {}
    d = parsed.defaults
    for name, r in parsed.rotations.items():
        interval = r.interval if r.interval is not None else d.interval
        timeout = r.timeout if r.timeout is not None else d.timeout
        if timeout >= interval:
            where = f"rotations.{name}.timeout" if r.timeout is not None else "defaults.timeout"
            raise ConfigError(
                f"{path}: {where}: timeout ({timeout:g}s) must be below interval ({interval:g}s)"
            )
        if r.provider in ("anthropic", "simulated") and r.base_url and (
            r.base_url.rstrip("/").endswith("/v1")
        ):
            raise ConfigError(
                f"{path}: rotations.{name}.base_url: Anthropic's base_url is the host root "
                "(like https://api.anthropic.com), without /v1"
            )
        if r.project_id and r.provider != "openai":
            raise ConfigError(
                f"{path}: rotations.{name}.project_id: only OpenAI rotations take a project_id "
                f"({r.provider} admin keys act on the whole organization); remove it"
            )
        if r.provider == "openai" and r.admin and not r.project_id:
            raise ConfigError(f"{path}: rotations.{name}.project_id: required with an OpenAI admin key")
        rotations[name] = Rotation(
            name=name,
            provider=r.provider,
            old=r.old or default_reference(name, "old"),
            new=r.new or default_reference(name, "new"),
            admin=r.admin or default_reference(name, "admin"),
            admin_explicit=r.admin is not None,
            deployment=r.deployment,
            base_url=r.base_url,
            project_id=r.project_id,
            rotate_every=r.rotate_every,
            interval=interval,
            timeout=timeout,
            streak=r.streak if r.streak is not None else d.streak,
            indeterminate=r.indeterminate or d.indeterminate,
            samples=r.samples if r.samples is not None else d.samples,
            max_old_share=r.max_old_share if r.max_old_share is not None else d.max_old_share,
            destinations=tuple(dest.spec() for dest in r.destinations),
            drain=r.drain,
        )
    state = parsed.state_dir or os.environ.get("KEYTURN_STATE_DIR")
    state_dir = Path(state).expanduser() if state else default_state_dir()
    return Config(path=path, rotations=rotations, state_dir=state_dir)


def load(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config; a missing default file is an empty config."""
    path = config_path(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit or os.environ.get("KEYTURN_CONFIG"):
            # A key pasted after --config is not echoed back.
            raise ConfigError(f"{redact_keylike(str(path))}: file not found") from None
        return validate({}, path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {type(exc).__name__}") from None
    import tomllib  # here: `keyturn demo` reads no file, and the import compiles regexes

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries line and column, never the offending value.
        raise ConfigError(f"{path}: (TOML syntax): {exc}") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables by recursion: a few hundred
        # levels exhaust the stack. No config nests more than three.
        raise ConfigError(f"{path}: (TOML syntax): arrays or tables nested too deeply") from None
    try:
        return validate(data, path)
    except RecursionError:
        raise ConfigError(f"{path}: a value is nested too deeply") from None
