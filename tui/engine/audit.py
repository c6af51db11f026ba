"""The append-only audit log: one JSON line per rotation event, fingerprints only.

Each line is written with flush + fsync, so a `kill -9` at any moment leaves every
earlier event intact. Every string in it is cleaned (providers.text.clean) on the way
in and again on the way out: a provider's text, or a log edited by hand, can never put
an escape sequence on the terminal of whoever reads it with `keyturn log`. Reading
skips a torn line (from an earlier crash), or any other line it cannot read, with a
warning instead of failing.
"""

from __future__ import annotations

import errno
import json
import os
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from providers.text import clean
from tui.engine.credentials import redact

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
        if exc.errno == errno.ELOOP:
            self.reason = f"{path} is a symlink, which keyturn does not follow"
        super().__init__(self.reason)


class TornLine(UserWarning):
    """A line of the audit log could not be read (a crash mid-write, or damage)."""


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

    def _write(self, data: bytes) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a symlink planted where the log goes is refused, never written through.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            # A torn tail from a crash must not swallow this record: start on a fresh line.
            if os.fstat(fd).st_size and not self._ends_with_newline():
                data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, "short write: the disk may be full")
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def events(self, rotation: str | None = None) -> Iterator[dict[str, Any]]:
        """Every readable event (of one rotation, when named), oldest first, cleaned."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
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
