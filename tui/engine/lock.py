"""One run per rotation at a time, across processes: a lock file in the state dir.

The lock is an OS file lock (`flock`) on `<state dir>/locks/<rotation>.lock`, held for
the whole run and released on every exit — the kernel releases it when the process ends,
however it ends, so a lock left by a dead process is never in the way. The file also
says who holds it (pid, host, command, since when), so a second run can tell the user.
Neither `locks/` nor the lock file is used through a symlink (tui/engine/state_dir.py).
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
from pathlib import Path

from tui.engine.state_dir import make_dir, open_file

try:
    import fcntl
except ImportError:  # Windows: no flock; one run at a time is then the user's to keep
    fcntl = None  # type: ignore[assignment]


class RotationBusy(Exception):
    """Another run holds this rotation; the message says which."""


class RotationLock:
    def __init__(self, state_dir: Path, rotation: str) -> None:
        self.rotation = rotation
        self.path = Path(state_dir) / "locks" / f"{rotation}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise RotationBusy naming its holder (a stale file left by a
        process that died is taken over: the kernel released its lock)."""
        if self._fd is not None:
            return
        make_dir(self.path.parent)  # StateDirError when `locks` is a symlink or a file
        fd = open_file(self.path, os.O_RDWR | os.O_CREAT)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read(fd)
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise RotationBusy(
                    f"rotation {self.rotation} is in use by another keyturn run "
                    f"({holder or 'holder unknown'}); wait for it to finish, or stop it "
                    f"(lock {self.path})") from None
        os.ftruncate(fd, 0)
        command = " ".join(["keyturn", *sys.argv[1:2]])  # the command; never an argument
        os.write(fd, (f"pid {os.getpid()} on {socket.gethostname()}, {command}, "
                      f"since {time.strftime('%Y-%m-%d %H:%M:%S')}").encode()[:300])
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read(fd: int) -> str:
    try:
        text = os.pread(fd, 300, 0).decode("utf-8", "replace")
    except OSError:
        return ""
    return "".join(ch for ch in text if ch.isprintable()).strip()
