"""What the audit log says happened to a rotation: when it finished, where it stopped.

Read by the engine (never revoke a key the log shows revoked), by resume, by status and
by the report; it only reads events and imports nothing else of the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

#: Events that mean "this rotation finished": the old key was proved dead.
FINISHED = ("done", "old_key_dead")


def parse_time(text: object) -> datetime | None:
    """An audit log time (`2026-01-02T03:04:05.678Z`) as an aware UTC datetime."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


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
    #: (a crash or a timeout around the admin call): resume asks the provider first.
    unanswered: bool = False
    since: str | None = None
    #: Whether the deactivation call went out: `no` (the run stopped while looking the key
    #: up), `maybe` (its intent was logged, or a log from before intents were logged),
    #: `yes` (the provider answered).
    sent: str = "maybe"


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
            console = record.get("method") == "console"
            state = {"phase": "revoking" if console else "verifying",
                     "method": record.get("method"), "unanswered": not console,
                     "since": record.get("time"), "key_id": None, "sent": "maybe"}
        elif event == "key_lookup" and state is not None:
            state["sent"] = "no"  # intents are logged: no `deactivating` yet means not sent
        elif event in ("deactivating", "revoke_unknown") and state is not None:
            state.update(sent="maybe", key_id=record.get("key_id") or state["key_id"])
        elif event == "revoke_confirmed" and state is not None:
            state.update(phase="verifying", unanswered=False, sent="yes",
                         key_id=record.get("key_id") or state["key_id"])
        elif event == "revoke_failed" and state is not None and state["phase"] != "done":
            state = None  # the provider refused, or the call never went out: still active
        elif event == "failure" and state is not None and state["phase"] != "done":
            detail = str(record.get("detail", ""))
            # A failed revoke call left the key active; a failed reactivate changes nothing.
            if state["unanswered"] and not detail.startswith("reactivate"):
                state = None
        elif event == "rollback":
            state = None
        elif event in FINISHED:
            state = state or {"method": None, "since": record.get("time"), "key_id": None,
                              "sent": "yes"}
            state.update(phase="done", unanswered=False)
        elif event == "resumed" and state is not None and record.get("key_id"):
            state["key_id"] = record.get("key_id")
    if state is None:
        return None
    return ResumePoint(
        phase=state["phase"], old_fingerprint=old_fingerprint, method=state["method"],
        key_id=state["key_id"], unanswered=state["unanswered"], since=state["since"],
        sent=state.get("sent", "maybe"),
    )


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
