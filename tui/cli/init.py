"""`keyturn init`: write a commented config for a first rotation.

On a terminal it asks for whatever the flags left out (rich's Prompt, on stderr);
without one, the flags are all there is and a missing one is named, as gh does. The
text is validated as the config loader would before it is written, and an existing file
is never overwritten unless --force.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

from tui.cli.common import EXIT_OK, EXIT_USAGE, Fail, out, prompt_console
from tui.cli.setup_text import GUIDES, template
from tui.engine import config_file
from tui.engine.config import NAME, ConfigError, config_path


def interactive() -> bool:
    return bool(sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty())


def ask(question: str, *, choices: list[str] | None = None, default: str | None = None) -> str:
    from rich.prompt import Prompt
    from rich.text import Text

    answer = Prompt.ask(Text(question), choices=choices, default=default,
                        console=prompt_console())
    return (answer or "").strip()


def gather(args: argparse.Namespace) -> dict[str, str | None]:
    """The answers: flags first, then questions on a terminal, else what is missing."""
    asking = interactive()
    if not asking:
        missing = [flag for flag, value in (("--provider", args.provider), ("--name", args.name))
                   if not value]
        if missing:
            raise Fail(f"keyturn init needs {' and '.join(missing)} when not run on a terminal "
                       "(see `keyturn init --help`)", EXIT_USAGE)
    provider = args.provider or ask("Provider", choices=list(GUIDES), default="anthropic")
    name = args.name
    while not name:
        name = ask("Rotation name (e.g. your app's)", default="my-app")
        if not NAME.match(name):
            prompt_console().print("letters, digits, '-', '_' or '.' (up to 64)")
            name = None
    if not NAME.match(name):
        raise Fail(f"--name: {name!r} must be letters, digits, '-', '_' or '.'", EXIT_USAGE)
    keys = args.keys or (ask("Where do the keys live: the OS keychain or environment "
                             "variables", choices=["keyring", "env"], default="keyring")
                         if asking else "keyring")
    deployment = args.deployment
    if deployment is None and asking:
        deployment = ask("Your app's keyturn probe URL (Enter for none)", default="") or None
    admin = args.admin or (ask("An admin key lets keyturn revoke the old key itself: none, "
                               "in the keychain, or an environment variable",
                               choices=["none", "keyring", "env"], default="none")
                           if asking else "none")
    project_id = args.project_id
    if provider == "openai" and admin != "none" and not project_id:
        if not asking:
            raise Fail("--project-id: needed with an OpenAI admin key (the project the keys "
                       "belong to, proj_…)", EXIT_USAGE)
        project_id = ask("OpenAI project id (proj_…)")
    return {"provider": provider, "name": name, "keys": keys, "deployment": deployment,
            "admin": admin, "project_id": project_id}


def run(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    if path.exists() and not args.force:
        raise Fail(f"{path} exists; keyturn init does not overwrite it (pass --force to "
                   "replace it, or --config PATH to write another file)", EXIT_USAGE)
    answers = gather(args)
    text = template(**answers)  # type: ignore[arg-type]
    try:
        config_file.validate(tomllib.loads(text), path)  # what `keyturn` will read back
    except ConfigError as exc:
        raise Fail(f"not written: {exc}", EXIT_USAGE) from None
    except tomllib.TOMLDecodeError as exc:
        raise Fail(f"not written: {path}: {exc}", EXIT_USAGE) from None
    write(path, text)
    name = answers["name"]
    out(f"wrote {path}")
    out("next:")
    if answers["keys"] == "env":
        env = GUIDES[str(answers["provider"])].env_prefix
        out(f"  1. export {env}_API_KEY_OLD=… (the key in service now; never in the config)")
    else:
        out(f"  1. keyturn secret set {name} old (the key in service now)")
    out("  2. keyturn config check (what each setting does, and what is missing)")
    out(f"  3. keyturn probe {name} (one probe of every target)")
    return EXIT_OK


def write(path: Path, text: str) -> None:
    """Write the config whole or not at all (a temp file beside it, then a rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(temp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(temp, path)
    except OSError as exc:
        raise Fail(f"{path}: cannot write: {exc.strerror or type(exc).__name__}",
                   EXIT_USAGE) from None
