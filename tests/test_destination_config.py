"""`[[rotations.NAME.destinations]]` in the config file: what it reads as, and the one-line
error a mistake gets (naming the key, never echoing a value that may be a pasted key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support_canary import CANARY_NEW
from tui.engine.config import ConfigError
from tui.engine.config_file import validate
from tui.engine.destinations import Command, DotenvFile, WorkerSecret

WORKER = {"kind": "cloudflare-worker", "account_id": "0123456789abcdef0123456789abcdef",
          "script": "cybersygn-vision", "secret": "ANTHROPIC_API_KEY",
          "token": "env:CLOUDFLARE_API_TOKEN"}
DOTENV = {"kind": "dotenv", "path": "/srv/app/.env", "variable": "ANTHROPIC_API_KEY"}
COMMAND = {"kind": "command", "argv": ["wrangler", "secret", "put", "ANTHROPIC_API_KEY"]}


def config(*destinations: dict) -> dict:
    return {"rotations": {"svc": {"provider": "anthropic", "destinations": list(destinations)}}}


def test_the_three_kinds_read_as_the_engine_runs_them_with_their_defaults() -> None:
    rotation = validate(config(WORKER, DOTENV, COMMAND), Path("k.toml")).rotation("svc")
    assert rotation.destinations == (
        WorkerSecret("0123456789abcdef0123456789abcdef", "cybersygn-vision", "ANTHROPIC_API_KEY",
                     "env:CLOUDFLARE_API_TOKEN", "https://api.cloudflare.com"),
        DotenvFile("/srv/app/.env", "ANTHROPIC_API_KEY"),
        Command(("wrangler", "secret", "put", "ANTHROPIC_API_KEY"), 60.0, "{key}", None),
    )
    assert validate(config(), Path("k.toml")).rotation("svc").destinations == ()


@pytest.mark.parametrize(("destination", "where", "problem"), [
    ({**COMMAND, "argv": ["gh", "secret", "set", "X", "--body", "{key}"]}, "command.argv",
     "the key goes on standard input (`stdin`), never in argv"),
    ({**COMMAND, "argv": ["gh", "secret", "set", "X", "--body", CANARY_NEW]}, "command.argv",
     "a word looks like a raw key"),
    ({**COMMAND, "stdin": "ANTHROPIC_API_KEY="}, "command.stdin", "must hold {key} exactly once"),
    ({**WORKER, "token": "prompt"}, "cloudflare-worker.token", "must be an env: or keyring:"),
    ({**WORKER, "token": CANARY_NEW}, "cloudflare-worker.token", "looks like a raw key"),
    ({**WORKER, "api": "http://api.cloudflare.example"}, "cloudflare-worker.api",
     "must be https://"),
    ({**WORKER, "account_id": "my-account"}, "cloudflare-worker.account_id", "should match"),
    ({**DOTENV, "variable": "ANTHROPIC API KEY"}, "dotenv.variable", "should match"),
    ({**DOTENV, "kind": "vercel"}, "destinations.0", "does not match any of the expected tags"),
    ({**DOTENV, "mode": "0600"}, "dotenv.mode", "unknown key"),
])
def test_a_mistake_is_one_line_naming_the_key_without_echoing_a_key(
    destination: dict, where: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(config(destination), Path("k.toml"))
    message = str(caught.value)
    assert message.startswith("k.toml: rotations.svc.destinations.0")
    assert where in message and problem in message, message
    assert "\n" not in message and CANARY_NEW[:16] not in message
