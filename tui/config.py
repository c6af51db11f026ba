"""The config file: TOML, validated with pydantic; unknown keys are errors.

A broken file becomes one ConfigError line that names the file, the key and the
problem (the CLI exits 2 on it); loading never writes anything. The file's schema
(pydantic) lives in config_schema.py and is imported only when a file is validated:
what the engine runs (Rotation, Config) are plain dataclasses, so the demo and the
dashboard start without loading pydantic.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tui.credentials import default_reference, redact_keylike

PROVIDER_NAMES = ("anthropic", "openai", "simulated")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
DURATION_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


class ConfigError(Exception):
    """One line for the user: file, key, problem."""


def parse_duration(text: str) -> float:
    """`90d`, `12h`, `2w` → seconds."""
    m = DURATION.match(text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError("must be a positive duration like 90d, 12h or 2w")
    return int(m.group(1)) * DURATION_UNITS[m.group(2)]


@dataclass(frozen=True)
class Rotation:
    """One rotation with defaults applied: what the engine runs."""

    name: str
    provider: str
    old: str
    new: str
    admin: str
    admin_explicit: bool
    deployment: str | None
    base_url: str | None
    project_id: str | None
    rotate_every: str | None
    interval: float
    timeout: float
    streak: int
    indeterminate: str

    @property
    def rotate_every_seconds(self) -> float | None:
        return parse_duration(self.rotate_every) if self.rotate_every else None

    def uses_default_slots(self) -> bool:
        """Keys held in the keychain under keyturn's own names (promotable after a rotation)."""
        return self.old == default_reference(self.name, "old") and self.new == default_reference(
            self.name, "new"
        )


@dataclass(frozen=True)
class Config:
    """A loaded config file: its path, its rotations, where the record is kept."""

    path: Path
    rotations: dict[str, Rotation]
    state_dir: Path

    def rotation(self, name: str) -> Rotation:
        try:
            return self.rotations[name]
        except KeyError:
            known = ", ".join(sorted(self.rotations)) or "none configured"
            shown = redact_keylike(repr(name))  # a key typed as the rotation is not echoed
            raise ConfigError(f"{self.path}: no rotation named {shown} (known: {known})") from None


def default_config_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path("keyturn", appauthor=False) / "keyturn.toml"


def default_state_dir() -> Path:
    from platformdirs import user_state_path

    return user_state_path("keyturn", appauthor=False)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--config PATH`, else `KEYTURN_CONFIG`, else the platformdirs default."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KEYTURN_CONFIG")
    return Path(env) if env else default_config_path()


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
    from pydantic import ValidationError

    from tui.config_schema import FileConfig

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
            raise ConfigError(f"{path}: file not found") from None
        return validate({}, path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {type(exc).__name__}") from None
    import tomllib  # here: `keyturn demo` reads no file, and the import compiles regexes

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries line and column, never the offending value.
        raise ConfigError(f"{path}: (TOML syntax): {exc}") from None
    return validate(data, path)
