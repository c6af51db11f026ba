"""The dotenv destination on a real file: the key changes, nothing else does, and no copy
of any key is left behind (no backup, no temp file, even when the rename fails)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support_canary import CANARY_NEW, CANARY_OLD
from tui.engine import dotenv_file
from tui.engine.dotenv_file import DotenvError, write_dotenv

APP = """\
# settings for the vision service
export ANTHROPIC_API_KEY="{old}"   # rotated by keyturn
PORT=8080
# ANTHROPIC_API_KEY=an-old-commented-out-value
OTHER_KEY='{old}-suffix'

LOG_LEVEL=info
"""


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text(APP.format(old=CANARY_OLD))
    path.chmod(0o644)
    return path


def test_only_the_variable_changes_and_the_file_becomes_private(env_file: Path) -> None:
    said = write_dotenv(str(env_file), "ANTHROPIC_API_KEY", CANARY_NEW)
    expected = APP.format(old=CANARY_OLD).replace(
        f'ANTHROPIC_API_KEY="{CANARY_OLD}"', f'ANTHROPIC_API_KEY="{CANARY_NEW}"')
    assert env_file.read_text() == expected  # quotes, export, comments, blank lines kept
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert said == "ANTHROPIC_API_KEY set"
    assert sorted(p.name for p in env_file.parent.iterdir()) == [".env"]  # no backup, no temp


def test_every_assignment_is_changed_and_crlf_and_inline_notes_stay(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\r\nANTHROPIC_API_KEY = old # note\r\nANTHROPIC_API_KEY=older\r\nB=2")
    write_dotenv(str(path), "ANTHROPIC_API_KEY", "sk-new-value")
    assert path.read_bytes() == (b"A=1\r\nANTHROPIC_API_KEY = sk-new-value # note\r\n"
                                 b"ANTHROPIC_API_KEY=sk-new-value\r\nB=2")


def test_a_file_without_the_variable_gets_it_appended(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("PORT=8080")  # no newline at the end
    said = write_dotenv(str(path), "ANTHROPIC_API_KEY", "sk-new-value")
    assert path.read_text() == "PORT=8080\nANTHROPIC_API_KEY=sk-new-value\n"
    assert said == "ANTHROPIC_API_KEY added (the file did not set it)"


def test_a_missing_file_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    with pytest.raises(DotenvError, match="no such file"):
        write_dotenv(str(tmp_path / "typo" / ".env"), "ANTHROPIC_API_KEY", CANARY_NEW)
    assert list(tmp_path.iterdir()) == []


def test_a_value_running_past_its_line_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    original = 'ANTHROPIC_API_KEY="first line\nsecond line"\n'
    path.write_text(original)
    with pytest.raises(DotenvError, match="goes on past the line; not rewritten"):
        write_dotenv(str(path), "ANTHROPIC_API_KEY", CANARY_NEW)
    assert path.read_text() == original


def test_a_failed_rename_leaves_the_old_file_and_no_temp_file(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = env_file.read_bytes()

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dotenv_file.os, "replace", full_disk)
    with pytest.raises(DotenvError, match="cannot write: No space left on device") as caught:
        write_dotenv(str(env_file), "ANTHROPIC_API_KEY", CANARY_NEW)
    assert CANARY_NEW not in str(caught.value)
    assert env_file.read_bytes() == before
    assert sorted(p.name for p in env_file.parent.iterdir()) == [".env"]


def test_a_symlink_is_followed_and_stays_a_symlink(env_file: Path, tmp_path: Path) -> None:
    link = tmp_path / "current.env"
    link.symlink_to(env_file)
    write_dotenv(str(link), "ANTHROPIC_API_KEY", CANARY_NEW)
    assert link.is_symlink()
    assert f'ANTHROPIC_API_KEY="{CANARY_NEW}"' in env_file.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_the_files_owner_is_kept_when_root_rewrites_it(env_file: Path) -> None:
    os.chown(env_file, 1234, 5678)
    write_dotenv(str(env_file), "ANTHROPIC_API_KEY", CANARY_NEW)
    info = env_file.stat()
    assert (info.st_uid, info.st_gid) == (1234, 5678)
