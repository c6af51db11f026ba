"""The state dir's own entries, never reached through a symlink.

The state dir (`state_dir`, `KEYTURN_STATE_DIR`, or the platform's user state dir) may
itself be a symlink or sit below one: `~/.local/state` linked to another disk is
ordinary, and it is the user's own choice of where the record goes. Inside it, keyturn
makes every entry itself — `audit.jsonl`, the `report-*.md` files, the `locks/`
directory and the lock files in it — so a symlink there is none of keyturn's: planted by
someone who can write the directory, it would point keyturn's writes at a file of their
choosing, or a dangling one would make keyturn create its target. Each of these entries
is opened without following a symlink; one found is refused with StateDirError (a
sentence naming the path, exit 2 at the command line), never read, written or created
through.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

#: What a symlink where keyturn keeps its record is told.
SYMLINK = "is a symlink, which keyturn does not follow inside its state dir"


class StateDirError(OSError):
    """An entry of the state dir keyturn will not use; `str()` is one line for the user."""

    def __init__(self, path: Path | str, problem: str, code: int = errno.ELOOP) -> None:
        super().__init__(code, f"{path} {problem}")

    def __str__(self) -> str:
        return str(self.strerror)


def open_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """`os.open(path, flags)` of a regular file, never through a symlink (O_NOFOLLOW) and
    never hanging on a FIFO (O_NONBLOCK). StateDirError says why not; FileNotFoundError
    (no O_CREAT) and FileExistsError (O_EXCL) go up as they are, for the caller to decide."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, mode)
    except (FileNotFoundError, FileExistsError):
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # EMLINK: the BSDs' O_NOFOLLOW answer
            raise StateDirError(path, SYMLINK) from None
        why = exc.strerror or type(exc).__name__
        raise StateDirError(path, f"cannot be opened ({why})", exc.errno or errno.EIO) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StateDirError(path, "is not a regular file", errno.EINVAL)
    return fd


def make_dir(path: Path) -> None:
    """Create the directory `path` inside the state dir (and the state dir, which may be a
    symlink) unless it exists; a symlink or anything but a directory there is refused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise StateDirError(path, SYMLINK)
    if not stat.S_ISDIR(mode):
        raise StateDirError(path, "is not a directory", errno.ENOTDIR)
