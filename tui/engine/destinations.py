"""Destinations: where an app reads its key, so keyturn can write the NEW key there.

Three kinds, plain frozen dataclasses like the Rotation that holds them (the config
file's schema is config_schema.py): a Cloudflare Worker secret, a variable in a dotenv
file, and a command that reads the key on its standard input (wrangler, gh, vercel,
fly and the rest). What writing to each does is in push.py and the modules it calls.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from providers.cloudflare import DEFAULT_API

#: An environment variable or secret name (what apps read the key by).
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: Where the key goes in a command's standard input.
KEY_FIELD = "{key}"
#: Seconds a command may take by default (wrangler and vercel talk to their APIs).
COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class WorkerSecret:
    """A Cloudflare Worker's secret, written through Cloudflare's API."""

    account_id: str
    script: str
    secret: str
    #: A credential reference (`env:` or `keyring:`) to an API token that may edit the Worker.
    token: str
    api: str = DEFAULT_API
    kind = "cloudflare-worker"

    @property
    def label(self) -> str:
        return f"Worker {self.script} ({self.secret})"


@dataclass(frozen=True)
class DotenvFile:
    """A `NAME=value` line in a dotenv file, rewritten in place, atomically."""

    path: str
    variable: str
    kind = "dotenv"

    @property
    def label(self) -> str:
        return f"{self.path} ({self.variable})"


@dataclass(frozen=True)
class Command:
    """A command that takes the key on standard input, never in argv or its environment."""

    argv: tuple[str, ...]
    timeout: float = COMMAND_TIMEOUT
    #: What the command reads: `{key}` is the key (`fly secrets import` wants `NAME={key}`).
    stdin: str = KEY_FIELD
    #: Directory to run in (wrangler reads wrangler.toml there); None: keyturn's own.
    cwd: str | None = None
    kind = "command"

    @property
    def label(self) -> str:
        line = shlex.join(self.argv)
        return "`" + (line if len(line) <= 60 else line[:59] + "…") + "`"


Destination = WorkerSecret | DotenvFile | Command


def listing(destinations: tuple[Destination, ...]) -> list[str]:
    """One line per destination, for a confirmation: `1. Worker svc (KEY)`."""
    return [f"{i}. {d.label}" for i, d in enumerate(destinations, 1)]
