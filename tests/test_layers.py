"""The engine runs without a screen: nothing below the dashboard imports Textual, and
`keyturn --help` (and each command's) says what it does without loading the engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def package_modules(*packages: str) -> list[str]:
    """Every module of the named packages (or modules), found on disk: a new one is checked too."""
    found = []
    for package in packages:
        path = ROOT / package.replace(".", "/")
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
        assert files and files[0].exists(), package
        for file in files:
            name = ".".join(file.relative_to(ROOT).with_suffix("").parts)
            found.append(name.removesuffix(".__init__"))
    return found


#: The layers without a screen: the providers, the engine package and the CLI.
ENGINE = package_modules("providers", "tui.engine", "tui.cli")


def modules_after_import(*names: str) -> set[str]:
    code = "import sys\n" + "".join(f"import {n}\n" for n in names) + "print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_engine_imports_no_textual():
    loaded = modules_after_import(*ENGINE)
    assert not {m for m in loaded if m == "textual" or m.startswith("textual.")}


def test_help_loads_nothing_heavy():
    code = (
        "import sys\nfrom tui import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', ' '.join(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    loaded = set(out.split("LOADED", 1)[1].split())
    assert not loaded & {"httpx", "pydantic", "textual", "rich", "keyring"}


@pytest.mark.parametrize(
    "command,words",
    [
        ([], "Rotate a live API key"),
        (["probe"], "Exit 0 when the active key"),
        (["watch"], "exits 0 the moment the gate opens"),
        (["revoke"], "Probe until the gate opens"),
        (["demo"], "simulated provider"),
        (["secret", "set"], "Store the key for slot"),
        (["status"], "Exit 1 when any rotation is overdue"),
        (["log"], "audit log"),
    ],
)
def test_every_command_says_what_it_does(command, words):
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", *command, "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert words in " ".join(out.stdout.split())


def test_the_dashboard_is_built_before_httpx_is_loaded():
    """The demo and its dashboard are set up without running httpx's import (~55 ms):
    it runs when probing starts, after the first frame (tests/benchmarks: first frame)."""
    code = (
        "import sys\nfrom tui.app import KeyturnApp, Session\nfrom tui.engine.demo import build_demo\n"
        "d = build_demo(worker=True)\n"  # as `keyturn demo` builds it, with its simulated Worker
        "app = KeyturnApp(Session(d.rotation, d.provider, d.keys, demo=True))\n"
        "app.get_default_screen()\n"
        "print('BEFORE', 'httpx._client' in sys.modules)\n"
        "import httpx\nhttpx.AsyncClient\n"
        "print('AFTER', 'httpx._client' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "BEFORE False" in out.stdout and "AFTER True" in out.stdout, out.stdout + out.stderr
