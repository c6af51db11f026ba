"""A rotation's life between runs: due dates, status rows, resume, reports and key slots.

Everything here is read back from the audit log (`tui/audit.py`): the log is the one
record of what happened, so `keyturn status`, the dashboard's rotation list, a resumed
run and the Markdown report all agree. Nothing here imports Textual, and nothing here
prompts: a `prompt` reference or a missing keychain shows as an unknown fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tui.audit import AuditLog
from tui.config import Config, Rotation
from tui.credentials import CredentialError, Reference, resolve

#: Events that mean "this rotation finished": the old key was proved dead.
FINISHED = ("done", "old_key_dead")


# -- times --------------------------------------------------------------------------


def parse_time(text: object) -> datetime | None:
    """An audit log time (`2026-01-02T03:04:05.678Z`) as an aware UTC datetime."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def last_rotated(events: Iterable[dict[str, Any]]) -> datetime | None:
    """When the newest finished rotation among `events` proved its old key dead."""
    newest: datetime | None = None
    for record in events:
        if record.get("event") in FINISHED:
            when = parse_time(record.get("time"))
            if when is not None and (newest is None or when > newest):
                newest = when
    return newest


def human_duration(span: timedelta | None) -> str:
    """`3d 4h`, `5h 12m`, `42s`: the two largest units, for tables and reports."""
    if span is None:
        return "-"
    seconds = int(span.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    if minutes:
        return f"{sign}{minutes}m {secs}s"
    return f"{sign}{secs}s"


# -- status rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class StatusRow:
    """One rotation as `keyturn status` and the dashboard's rotation list show it."""

    name: str
    provider: str
    #: Fingerprints of the keys the references point to now; None when unknown
    #: (a `prompt` reference, an empty slot, no keychain).
    old_fingerprint: str | None
    new_fingerprint: str | None
    #: When keyturn last proved an old key of this rotation dead (from the audit log).
    last_rotated: datetime | None
    age: timedelta | None
    rotate_every: str | None
    due: datetime | None
    overdue: bool
    #: The phase an unfinished rotation stopped in (from the audit log), else None.
    in_progress: str | None = None

    @property
    def state(self) -> str:
        """One word for the table: `overdue`, `ok`, `never` (no rotation logged) or `-` (no policy)."""
        if self.overdue:
            return "overdue"
        if self.rotate_every is None:
            return "-"
        if self.last_rotated is None:
            return "never"
        return "ok"

    def to_json(self) -> dict[str, Any]:
        def stamp(when: datetime | None) -> str | None:
            return when.isoformat(timespec="seconds").replace("+00:00", "Z") if when else None

        return {
            "rotation": self.name,
            "provider": self.provider,
            "old_fingerprint": self.old_fingerprint,
            "new_fingerprint": self.new_fingerprint,
            "last_rotated": stamp(self.last_rotated),
            "age_seconds": int(self.age.total_seconds()) if self.age is not None else None,
            "rotate_every": self.rotate_every,
            "due": stamp(self.due),
            "overdue": self.overdue,
            "state": self.state,
            "in_progress": self.in_progress,
        }


def peek_fingerprint(ref: str) -> str | None:
    """The fingerprint behind a reference, or None; never prompts and never raises."""
    try:
        if Reference.parse(ref).kind == "prompt":
            return None
        secret = resolve(ref, "status", required=False)
    except CredentialError:
        return None
    except Exception:  # a broken keyring backend must not take `status` down
        return None
    return secret.fingerprint if secret is not None else None


def status_row(
    rotation: Rotation, events: list[dict[str, Any]], now: datetime | None = None
) -> StatusRow:
    """The status of one rotation given its audit events (oldest first)."""
    now = now or datetime.now(UTC)
    rotated = last_rotated(events)
    age = now - rotated if rotated is not None else None
    every = rotation.rotate_every_seconds
    due = rotated + timedelta(seconds=every) if rotated is not None and every else None
    old_fp = peek_fingerprint(rotation.old)
    new_fp = peek_fingerprint(rotation.new)
    unfinished = resume_point(events, old_fp) if old_fp else None
    return StatusRow(
        name=rotation.name,
        provider=rotation.provider,
        old_fingerprint=old_fp,
        new_fingerprint=new_fp,
        last_rotated=rotated,
        age=age,
        rotate_every=rotation.rotate_every,
        due=due,
        overdue=due is not None and now >= due,
        in_progress=unfinished.phase if unfinished and unfinished.phase != "done" else None,
    )


def status_rows(cfg: Config, now: datetime | None = None) -> list[StatusRow]:
    """Every configured rotation, sorted by name, with its due date from the audit log."""
    now = now or datetime.now(UTC)
    by_rotation: dict[str, list[dict[str, Any]]] = {}
    for record in AuditLog(cfg.state_dir).events():
        by_rotation.setdefault(str(record.get("rotation")), []).append(record)
    return [
        status_row(rotation, by_rotation.get(name, []), now)
        for name, rotation in sorted(cfg.rotations.items())
    ]


# -- resume ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePoint:
    """Where an interrupted rotation of one OLD key stood, read from the audit log.

    phase: `revoking` (console revocation asked, not confirmed), `verifying` (revoke
    requested or confirmed: never request it again) or `done`.
    """

    phase: str
    old_fingerprint: str
    method: str | None = None
    key_id: str | None = None
    #: True when a revoke was requested but the provider's answer never reached the log
    #: (a crash while the admin call was in flight).
    unanswered: bool = False
    since: str | None = None


def resume_point(events: Iterable[dict[str, Any]], old_fingerprint: str) -> ResumePoint | None:
    """The state of the rotation of `old_fingerprint`, or None when nothing was revoked.

    A revoke request for this key that was not undone (failed admin call, rollback)
    means the key may already be revoked: resume verifies instead of revoking again.
    """
    state: dict[str, Any] | None = None
    for record in events:
        if record.get("old") != old_fingerprint:
            continue
        event = record.get("event")
        if event == "revoke_requested":
            state = {"phase": "revoking" if record.get("method") == "console" else "verifying",
                     "method": record.get("method"), "unanswered": record.get("method") != "console",
                     "since": record.get("time"), "key_id": None}
        elif event == "revoke_confirmed" and state is not None:
            state.update(phase="verifying", unanswered=False,
                         key_id=record.get("key_id") or state["key_id"])
        elif event == "failure" and state is not None and state["phase"] != "done":
            detail = str(record.get("detail", ""))
            # A failed revoke call left the key active; a failed reactivate changes nothing.
            if state["unanswered"] and not detail.startswith("reactivate"):
                state = None
        elif event == "rollback":
            state = None
        elif event in FINISHED and state is not None:
            state["phase"] = "done"
        elif event == "resumed" and state is not None and record.get("key_id"):
            state["key_id"] = record.get("key_id")
    if state is None:
        return None
    return ResumePoint(
        phase=state["phase"], old_fingerprint=old_fingerprint, method=state["method"],
        key_id=state["key_id"], unanswered=state["unanswered"], since=state["since"],
    )


def state_dir_of(cfg_or_dir: Config | Path | str) -> Path:
    return Path(cfg_or_dir.state_dir if isinstance(cfg_or_dir, Config) else cfg_or_dir)
