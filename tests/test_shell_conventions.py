"""The conventions of gh and wrangler a shell user expects: global options anywhere on
the line, and completion scripts that really complete (run in bash and fish)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support_cli import KEYTURN
from tui.cli import main

CONFIG = """\
[rotations.vision]
provider = "anthropic"
old = "env:KT_OLD"

[rotations.billing]
provider = "openai"
old = "env:KT_OLD"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.mark.parametrize("where", ["before", "after", "between"])
def test_config_is_taken_anywhere_on_the_line(config: Path, where: str, capsys) -> None:
    line = {"before": ["--config", str(config), "status", "--json"],
            "after": ["status", "--json", "--config", str(config)],
            "between": ["status", "--config", str(config), "--json"]}[where]
    assert main(line) == 0
    out = capsys.readouterr().out
    assert f'"config": "{config}"' in out
    assert '"rotation": "billing"' in out


def test_config_after_a_nested_command(config: Path, capsys) -> None:
    assert main(["config", "check", "--config", str(config)]) in (0, 1)
    assert str(config) in capsys.readouterr().out


def shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(KEYTURN).parent) + os.pathsep + env.get("PATH", "")
    return env


def script_of(shell: str, tmp_path: Path, capsys) -> Path:
    """`keyturn completion SHELL`, saved as a user would save it."""
    assert main(["completion", shell]) == 0
    path = tmp_path / f"keyturn.{shell}"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    return path


def bash_complete(script: Path, *lines: list[str]) -> list[list[str]]:
    """What bash offers for the last word of each line, with keyturn's script sourced
    (one bash for all the lines)."""
    steps = [f'source "{script}"']
    for words in lines:
        array = " ".join(f"'{w}'" for w in words)
        steps.append(f"COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); "
                     "_keyturn; echo \"${COMPREPLY[*]}\"")
    done = subprocess.run(["bash", "-c", "; ".join(steps)], capture_output=True, text=True,
                          timeout=30, env=shell_env(), check=True)
    return [line.split() for line in done.stdout.splitlines()]


def test_bash_completes_commands_options_choices_and_rotation_names(
    config: Path, tmp_path: Path, capsys
) -> None:
    script = script_of("bash", tmp_path, capsys)
    offered = bash_complete(
        script,
        ["keyturn", "st"],
        ["keyturn", "probe", "--ex"],
        ["keyturn", "probe", "vision", "--expect", ""],
        # Rotation names come from the config named on the line.
        ["keyturn", "--config", str(config), "watch", ""],
        ["keyturn", "secret", "set", "vision", ""],
        # A broken config completes nothing and prints nothing.
        ["keyturn", "--config", "/nonexistent.toml", "probe", ""],
    )
    assert offered == [["status"], ["--expect"], ["new", "old"], ["billing", "vision"],
                       ["old", "new", "admin"], []]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (.ci/run installs it)")
def test_fish_completes_rotation_names_from_the_config_on_the_line(
    config: Path, tmp_path: Path, capsys
) -> None:
    script = script_of("fish", tmp_path, capsys)
    line = (f'source "{script}"; '
            f'complete -C "keyturn probe --config {config} "; echo ---; complete -C "keyturn in"')
    done = subprocess.run(["fish", "-c", line], capture_output=True, text=True, timeout=30,
                          env=shell_env(), check=True)
    names, commands = done.stdout.split("---")
    assert sorted(names.split()) == ["billing", "vision"]
    assert commands.split()[0] == "init"


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (.ci/run installs it)")
def test_zsh_script_parses(tmp_path: Path, capsys) -> None:
    script = script_of("zsh", tmp_path, capsys)
    done = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stderr
