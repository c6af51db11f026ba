"""The append-only audit log: one JSON line per rotation event, fingerprints only.

Each line is written with flush + fsync, so a `kill -9` at any moment leaves every
earlier event intact. Every string in it is cleaned (providers.text.clean) on the way
in and again on the way out: a provider's text, or a log edited by hand, can never put
an escape sequence on the terminal of whoever reads it with `keyturn log`. Reading
skips a torn line (from an earlier crash), or any other line it cannot read, with a
warning (an AuditWarning) instead of failing.

The log is opened, to read or to write, only as a regular file and never through a
symlink (tui/engine/state_dir.py says why); one that cannot be opened at all (a
symlink, a directory, a FIFO, no permission) is a StateDirError naming it.
"""

from __future__ import annotations

import errno
import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from providers.text import clean
from tui.engine.credentials import redact
from tui.engine.state_dir import StateDirError, open_file

LOG_NAME = "audit.jsonl"
#: Longest string kept of any key or value, written or read.
VALUE_CAP = 512
#: Nesting kept in a value (keyturn writes flat records); deeper reads as "…".
DEPTH_CAP = 8
#: A longer line is not one keyturn wrote: it is skipped without being read whole.
LINE_CAP = 1024 * 1024


def format_time(when: datetime) -> str:
    """`2026-01-02T03:04:05.678Z`: UTC, milliseconds, sortable as text."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cleaned(value: Any, depth: int = 0) -> Any:
    """`value` with every string in it (dict keys too) cleaned and capped; numbers,
    booleans and None as they are; anything else as its cleaned text."""
    if isinstance(value, str):
        return clean(value, VALUE_CAP)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= DEPTH_CAP:
        return "…"
    if isinstance(value, dict):
        return {clean(k, VALUE_CAP): cleaned(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cleaned(v, depth + 1) for v in value]
    return clean(value, VALUE_CAP)


class AuditWriteError(Exception):
    """An event could not be appended to the audit log; `reason` says why in words."""

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path = path
        self.reason = f"{path}: {exc.strerror or type(exc).__name__}"
        if isinstance(exc, StateDirError):
            self.reason = str(exc)
        super().__init__(self.reason)


class AuditWarning(UserWarning):
    """Something in the audit log was skipped; every reader shows it as one line."""


class TornLine(AuditWarning):
    """A line of the audit log could not be read (a crash mid-write, or damage)."""


@contextmanager
def warnings_to(sink: Callable[[str], None]) -> Iterator[None]:
    """Within the block, each AuditWarning's text goes to `sink` (once per text, however
    often the log is read) instead of Python's `file:line: Warning` output on stderr;
    other warnings pass through. The CLI's sink prints a `keyturn: warning:` line, the
    dashboard's writes its event log."""
    with warnings.catch_warnings():  # restores the filters and showwarning on the way out
        warnings.simplefilter("always", AuditWarning)
        previous = warnings.showwarning
        shown: set[str] = set()

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            if not issubclass(category, AuditWarning):
                previous(message, category, filename, lineno, file, line)
            elif str(message) not in shown:
                shown.add(str(message))
                sink(str(message))

        warnings.showwarning = show
        yield


class AuditLog:
    """Appends events for rotations to `<state_dir>/audit.jsonl`."""

    def __init__(self, state_dir: Path, now: Callable[[], datetime] | None = None) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / LOG_NAME
        #: Wall-clock source (UTC); tests pass a fake one to date events.
        self.now = now or (lambda: datetime.now(UTC))

    def append(self, rotation: str, event: str, **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "time": format_time(self.now()),
            "rotation": rotation,
            "event": event,
        }
        record.update({k: v for k, v in fields.items() if v is not None})
        record = cleaned(record)
        line = redact(json.dumps(record, sort_keys=False)) + "\n"
        try:
            self._write(line.encode("utf-8"))
        except OSError as exc:
            raise AuditWriteError(self.path, exc) from None
        return record

    def ensure_writable(self) -> None:
        """Create the log if it is missing and check that it can be appended to (never
        through a symlink); AuditWriteError says why not. A run checks this first: a run
        that could not record what it did must stop before probing, not mid-revoke."""
        try:
            os.close(self._open())
        except OSError as exc:
            raise AuditWriteError(self.path, exc) from None

    def _open(self) -> int:
        """The log opened to append (created if missing): a regular file, not a symlink."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)  # the state dir may be a symlink
        except FileExistsError:
            raise StateDirError(self.dir, "is not a directory", errno.ENOTDIR) from None
        # A symlink planted where the log goes is refused, never written through.
        return open_file(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)

    def _write(self, data: bytes) -> None:
        fd = self._open()
        try:
            # A torn tail from a crash must not swallow this record: start on a fresh line.
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, "short write: the disk may be full")
            os.fsync(fd)
        finally:
            os.close(fd)

    def _open_to_read(self):
        """The log to read, or None when there is none yet; StateDirError when it cannot be
        read (a symlink, not a regular file, no permission, the state dir a file)."""
        try:
            return os.fdopen(open_file(self.path, os.O_RDONLY), "rb")
        except FileNotFoundError:
            return None

    def events(self, rotation: str | None = None) -> Iterator[dict[str, Any]]:
        """Every readable event (of one rotation, when named), oldest first, cleaned."""
        fh = self._open_to_read()
        if fh is None:
            return
        with fh:
            number = 0
            while raw := fh.readline(LINE_CAP + 1):
                number += 1
                if len(raw) > LINE_CAP and not raw.endswith(b"\n"):
                    while (rest := fh.readline(LINE_CAP)) and not rest.endswith(b"\n"):
                        pass  # the rest of an oversized line, read in bounded pieces
                    self._skipped(number, f"a line of more than {LINE_CAP // 1024} KiB")
                    continue
                line = raw.decode("utf-8", errors="replace")  # a damaged byte reads as U+FFFD
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    self._skipped(number, "a torn line (an earlier crash mid-write)")
                    continue
                except RecursionError:
                    self._skipped(number, "a line nested too deeply to read")
                    continue
                if not isinstance(record, dict):
                    continue
                record = cleaned(record)
                if rotation is None or record.get("rotation") == rotation:
                    yield record

    def _skipped(self, number: int, what: str) -> None:
        warnings.warn(f"{self.path}:{number}: skipped {what}", TornLine, stacklevel=3)
