"""Config: defaults, per-rotation overrides, where the file is found, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.engine.config import ConfigError, config_path
from tui.engine.config_file import load

GOOD = """
[defaults]
interval = 3.0
timeout = 1.0
streak = 4
samples = 20

[rotations.vision]
provider = "anthropic"
old = "env:VISION_OLD"
deployment = "https://example.test/health"
streak = 8
rotate_every = "90d"
max_old_share = 0.005

[rotations.plain]
provider = "openai"
interval = 10
timeout = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keyturn.toml"
    path.write_text(text)
    return path


def test_defaults_and_overrides(tmp_path):
    cfg = load(write(tmp_path, GOOD))
    vision, plain = cfg.rotation("vision"), cfg.rotation("plain")
    assert (vision.interval, vision.timeout, vision.streak) == (3.0, 1.0, 8)
    assert (plain.interval, plain.timeout, plain.streak) == (10, 2, 4)
    assert (vision.samples, vision.max_old_share) == (20, 0.005)
    assert (plain.samples, plain.max_old_share) == (20, 0.01)  # 0.01: the built-in default
    assert vision.rotate_every_seconds == 90 * 86400
    # Slots without a reference live in the keychain under keyturn's names.
    assert vision.new == "keyring:keyturn/vision/new" and vision.admin == "keyring:keyturn/vision/admin"
    assert plain.uses_default_slots()


def test_path_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYTURN_CONFIG", str(tmp_path / "env.toml"))
    assert config_path("/x/explicit.toml") == Path("/x/explicit.toml")
    assert config_path(None) == tmp_path / "env.toml"
    monkeypatch.delenv("KEYTURN_CONFIG")
    assert config_path(None).parts[-2:] == ("keyturn", "keyturn.toml")


def test_missing_default_file_is_an_empty_config_but_missing_explicit_file_is_an_error(tmp_path):
    assert load(None).rotations == {}
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "text,where",
    [
        ("[rotations.a]\nprovider = 'anthropic'\nstreek = 3\n", "rotations.a.streek: unknown key"),
        ("[defaults]\ninterval = 1\ntimeout = 1\n[rotations.a]\nprovider='openai'\n",
         "defaults.timeout: timeout (1s) must be below interval (1s)"),
        ("[rotations.a]\nprovider = 'cohere'\n", "rotations.a.provider"),
        ("[rotations.a]\n", "rotations.a.provider: required key is missing"),
    ],
)
def test_one_line_naming_file_and_key(tmp_path, text, where):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(str(path)) and where in message and "\n" not in message
