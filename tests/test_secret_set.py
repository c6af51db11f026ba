"""`keyturn secret set` tells the truth: it reads the key back, names the backend that
holds it, refuses plaintext backends unless told, and refuses a key of the wrong shape or
for a rotation that does not exist, saying what it expected. Never echoing the key."""

from __future__ import annotations

import io
import json
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backends import null

from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    CANARY_OPENAI,
    assert_no_canary,
)
from tui.cli import main
from tui.engine.credentials import Secret

CONFIG = """\
[rotations.vision]
provider = "anthropic"

[rotations.billing]
provider = "openai"
"""


class PlaintextKeyring(keyring.backend.KeyringBackend):
    """Like keyrings.alt's PlaintextKeyring: keys in a file, unencrypted."""

    priority = 1  # type: ignore[assignment]
    path: Path

    def get_password(self, service: str, username: str) -> str | None:
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        return data.get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        data[f"{service}/{username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("not supported")


@pytest.fixture(autouse=True)
def config(isolated_home: Path) -> Path:
    path = isolated_home / ".config" / "keyturn" / "keyturn.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG, encoding="utf-8")
    return path


def secret_set(monkeypatch, capsys, raw: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(raw + "\n"))
    code = main(["secret", "set", *args])
    out, err = capsys.readouterr()
    assert_no_canary(out, err)
    return code, out, err


def test_it_names_the_backend_and_reads_the_key_back(monkeypatch, capsys, memory_keyring) -> None:
    code, out, err = secret_set(monkeypatch, capsys, CANARY_NEW, "vision", "new")
    assert code == 0, err
    assert memory_keyring.store[("keyturn", "vision/new")] == CANARY_NEW
    assert "in tests.support_keyring.MemoryKeyring" in out
    assert Secret(CANARY_NEW).fingerprint in out and "read back" in out


def test_a_backend_that_keeps_nothing_is_a_failure_not_a_success(monkeypatch, capsys) -> None:
    keyring.set_keyring(null.Keyring())
    code, out, err = secret_set(monkeypatch, capsys, CANARY_NEW, "vision", "new")
    assert code == 2
    assert out == ""  # no "stored …" line
    assert "keyring.backends.null.Keyring" in err and "does not give it back" in err
    assert "env:" in err


def test_a_plaintext_backend_is_refused_unless_allowed(monkeypatch, capsys, tmp_path) -> None:
    backend = PlaintextKeyring()
    backend.path = tmp_path / "keys.json"
    keyring.set_keyring(backend)
    code, out, err = secret_set(monkeypatch, capsys, CANARY_OLD, "vision", "old")
    assert code == 2
    assert "PlaintextKeyring writes keys unencrypted to disk" in err and "--allow-plaintext" in err
    assert not backend.path.exists()  # nothing was written

    code, out, err = secret_set(monkeypatch, capsys, CANARY_OLD, "vision", "old",
                                "--allow-plaintext")
    assert code == 0, err
    assert "test_secret_set.PlaintextKeyring" in out
    assert backend.get_password("keyturn", "vision/old") == CANARY_OLD


@pytest.mark.parametrize("rotation, slot, raw, expected, looks", [
    ("vision", "new", CANARY_ADMIN, "an Anthropic API key (starting sk-ant-api…)",
     ("looks like an Anthropic admin key. An admin key goes in the admin slot: "
      "`keyturn secret set vision admin`")),
    ("vision", "old", CANARY_OPENAI, "an Anthropic API key (starting sk-ant-api…)",
     "looks like an OpenAI API key"),
    ("vision", "admin", CANARY_NEW, "an Anthropic admin key (starting sk-ant-adm…)",
     "looks like an Anthropic API key"),
    ("billing", "new", CANARY_NEW, "an OpenAI API key (starting sk-proj-… or sk-…)",
     "looks like an Anthropic API key"),
    ("billing", "admin", CANARY_OPENAI, "an OpenAI admin key (starting sk-admin-…)",
     "looks like an OpenAI API key"),
])
def test_a_key_of_the_wrong_shape_is_refused_saying_what_was_expected(
    monkeypatch, capsys, memory_keyring, rotation, slot, raw, expected, looks
) -> None:
    code, _, err = secret_set(monkeypatch, capsys, raw, rotation, slot)
    assert code == 2
    assert f"should be {expected}" in err and looks in err
    assert memory_keyring.store == {}


def test_any_shape_stores_a_key_of_another_shape(monkeypatch, capsys, memory_keyring) -> None:
    code, _, err = secret_set(monkeypatch, capsys, CANARY_OPENAI, "vision", "old", "--any-shape")
    assert code == 0, err
    assert memory_keyring.store[("keyturn", "vision/old")] == CANARY_OPENAI


def test_an_unknown_rotation_is_refused_naming_the_known_ones(monkeypatch, capsys,
                                                              memory_keyring, config) -> None:
    code, _, err = secret_set(monkeypatch, capsys, CANARY_NEW, "visoin", "new")
    assert code == 2
    assert f"{config}: no rotation named 'visoin' (known: billing, vision)" in err
    assert memory_keyring.store == {}
