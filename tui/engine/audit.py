"""The append-only audit log: one JSON line per rotation event, fingerprints only.

Each line is written with flush + fsync, so a `kill -9` at any moment leaves every
earlier event intact. Reading skips a torn last line (from an earlier crash) with a
warning instead of failing.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tui.engine.credentials import redact

LOG_NAME = "audit.jsonl"


def format_time(when: datetime) -> str:
    """`2026-01-02T03:04:05.678Z`: UTC, milliseconds, sortable as text."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TornLine(UserWarning):
    """A line of the audit log could not be parsed (a crash mid-write)."""


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
        line = redact(json.dumps(record, sort_keys=False, default=str)) + "\n"
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            data = line.encode("utf-8")
            # A torn tail from a crash must not swallow this record: start on a fresh line.
            if os.fstat(fd).st_size and not self._ends_with_newline():
                data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def events(self, rotation: str | None = None) -> Iterator[dict[str, Any]]:
        """Every parseable event (of one rotation, when named), oldest first."""
        try:
            fh = open(self.path, encoding="utf-8", errors="replace")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            return
        with fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    warnings.warn(
                        f"{self.path}:{number}: skipped a torn line (an earlier crash mid-write)",
                        TornLine,
                        stacklevel=2,
                    )
                    continue
                if not isinstance(record, dict):
                    continue
                if rotation is None or record.get("rotation") == rotation:
                    yield record
