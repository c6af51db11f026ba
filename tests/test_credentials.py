"""Secrets: masked forms, fingerprints, references, the keychain and its absence."""

from __future__ import annotations

import hashlib
import pickle

import keyring
import pytest
from keyring.backends import fail

from tests.support_canary import CANARY_NEW, CANARY_OLD, assert_no_canary
from tui import cli
from tui.engine.credentials import (
    CredentialError,
    KeychainUnavailable,
    Secret,
    check_reference,
    redact,
    resolve,
    store,
)


def test_secret_prints_masked_everywhere_and_reveals_only_on_request():
    s = Secret(CANARY_OLD)
    shown = " ".join([str(s), repr(s), f"{s}", f"{s!r}", str([s]), str({"k": s})])
    assert_no_canary(shown)
    assert str(s) == "sk-ant-…igAA"
    assert s.fingerprint == hashlib.sha256(CANARY_OLD.encode()).hexdigest()[:12]
    assert s.reveal() == CANARY_OLD
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_redact_scrubs_whole_keys_and_pieces():
    Secret(CANARY_NEW)
    text = f"error near {CANARY_NEW} and also {CANARY_NEW[20:40]}"
    assert_no_canary(redact(text))


@pytest.mark.parametrize(
    "ref,ok",
    [
        ("keyring:keyturn/vision/old", True),
        ("env:ANTHROPIC_KEY", True),
        ("prompt", True),
        ("keyring:", False),
        ("env:1BAD", False),
        ("file:/etc/key", False),
        (CANARY_OLD, False),
    ],
)
def test_references(ref, ok):
    assert (check_reference(ref) is None) is ok


def test_a_pasted_raw_key_is_refused_without_echo():
    problem = check_reference(CANARY_OLD)
    assert problem and "raw key" in problem
    assert_no_canary(problem)


def test_env_reference(monkeypatch):
    monkeypatch.setenv("KT_OLD", CANARY_OLD)
    assert resolve("env:KT_OLD", "old").fingerprint == Secret(CANARY_OLD).fingerprint
    monkeypatch.delenv("KT_OLD")
    with pytest.raises(CredentialError, match="KT_OLD is not set"):
        resolve("env:KT_OLD", "old")
    assert resolve("env:KT_OLD", "new", required=False) is None


def test_keyring_reference_roundtrip_in_memory(memory_keyring):
    store("keyring:keyturn/vision/new", CANARY_NEW + "\n")
    assert memory_keyring.store[("keyturn", "vision/new")] == CANARY_NEW
    assert resolve("keyring:keyturn/vision/new", "new").reveal() == CANARY_NEW
    with pytest.raises(CredentialError, match="nothing stored at keyring:keyturn/vision/old"):
        resolve("keyring:keyturn/vision/old", "old")


def test_prompt_reference_is_asked_once_and_held_in_memory():
    asked = []

    def prompt(label: str) -> str:
        asked.append(label)
        return CANARY_OLD

    first = resolve("prompt", "once old", prompt=prompt)
    second = resolve("prompt", "once old", prompt=prompt)
    assert first is second and asked == ["once old: "]


def vision_config(home) -> None:
    """A config with the rotation `secret set` stores for (it refuses unknown ones)."""
    path = home / ".config" / "keyturn" / "keyturn.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[rotations.vision]\nprovider = "anthropic"\n', encoding="utf-8")


def test_no_keyring_backend_says_so_and_names_env_references(capsys, monkeypatch, isolated_home):
    vision_config(isolated_home)
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(KeychainUnavailable) as info:
        store("keyring:keyturn/vision/new", CANARY_NEW)
    assert "env:" in str(info.value) and "PYTHON_KEYRING_BACKEND" in str(info.value)
    # Through the command: one clear line, exit 2, no traceback, no key.
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(CANARY_NEW + "\n"))
    code = cli.main(["secret", "set", "vision", "new"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "no usable keyring backend" in err and "env:" in err
    assert "Traceback" not in err
    assert_no_canary(out, err)


def test_secret_set_reads_piped_stdin_and_stores_at_the_default_slot(capsys, monkeypatch, memory_keyring,
                                                                     isolated_home):
    vision_config(isolated_home)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(CANARY_OLD + "\n"))
    assert cli.main(["secret", "set", "vision", "old"]) == 0
    out, err = capsys.readouterr()
    assert memory_keyring.store[("keyturn", "vision/old")] == CANARY_OLD
    assert "keyring:keyturn/vision/old" in out and Secret(CANARY_OLD).fingerprint in out
    assert_no_canary(out, err)
