"""A rotation's life between runs: due dates, status rows, resume, finishing and key slots
(the Markdown report is `report.py`).

Everything here is read back from the audit log (`tui/engine/audit.py`): the log is the one
record of what happened, so `keyturn status`, the dashboard's rotation list, a resumed
run and the Markdown report all agree. Nothing here imports Textual, and nothing here
prompts: a `prompt` reference or a missing keychain shows as an unknown fingerprint.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tui.engine.audit import AuditLog, AuditWarning
from tui.engine.config import Config, Rotation
from tui.engine.credentials import CredentialError, Reference, Secret, resolve
from tui.engine.history import FINISHED, ResumePoint, parse_time, resume_point
from tui.engine.report import state_dir_of, write_report
from tui.engine.rotation import Phase, RotationEngine
from tui.engine.session import Keys

# -- times --------------------------------------------------------------------------


#: How far past now a finished rotation may be dated and still count: clocks drift and
#: get corrected. A later date (a clock set years ahead, a log edited to read 9999) is not
#: believed: it would keep the rotation from ever coming due, and its due date would not
#: fit in a date at all.
CLOCK_SKEW = timedelta(days=1)


def last_rotated(events: Iterable[dict[str, Any]], now: datetime | None = None) -> datetime | None:
    """When the newest finished rotation among `events` proved its old key dead; given
    `now`, a rotation dated more than CLOCK_SKEW after it does not count."""
    newest: datetime | None = None
    for record in events:
        if record.get("event") in FINISHED:
            when = parse_time(record.get("time"))
            if when is None or (now is not None and when > now + CLOCK_SKEW):
                continue
            if newest is None or when > newest:
                newest = when
    return newest


def _warn_future(rotation: str, events: list[dict[str, Any]], now: datetime) -> None:
    """Say (an AuditWarning: one line at the terminal) that a future date was not believed."""
    for record in events:
        when = parse_time(record.get("time")) if record.get("event") in FINISHED else None
        if when is not None and when > now + CLOCK_SKEW:
            warnings.warn(AuditWarning(
                f"the audit log dates a finished rotation of {rotation} {record.get('time')}, "
                "in the future: not counted (is a clock wrong?)"), stacklevel=3)


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
    #: What the user must change when a reference still points at a key keyturn revoked
    #: (env: and other references keyturn does not move), else None.
    stale: str | None = None

    @property
    def state(self) -> str:
        """One word for the table: `overdue`, `update refs` (a reference holds a revoked key),
        `ok`, `never` (no rotation logged) or `-` (no policy)."""
        if self.overdue:
            return "overdue"
        if self.stale:
            return "update refs"
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
            "stale": self.stale,
        }


def peek_fingerprint(ref: str) -> str | None:
    """The fingerprint behind a reference, or None; never prompts and never raises."""
    try:
        if Reference.parse(ref).kind == "prompt":
            return None
        secret = resolve(ref, "status", required=False)
    except CredentialError:  # also a broken keychain: keychain_get wraps every backend error
        return None
    return secret.fingerprint if secret is not None else None


def status_row(
    rotation: Rotation, events: list[dict[str, Any]], now: datetime | None = None
) -> StatusRow:
    """The status of one rotation given its audit events (oldest first)."""
    now = now or datetime.now(UTC)
    _warn_future(rotation.name, events, now)
    rotated = last_rotated(events, now)
    age = now - rotated if rotated is not None else None
    every = rotation.rotate_every_seconds
    due = rotated + timedelta(seconds=every) if rotated is not None and every else None
    old_fp = peek_fingerprint(rotation.old)
    new_fp = peek_fingerprint(rotation.new)
    unfinished = resume_point(events, old_fp) if old_fp else None
    revoked = {record.get("old") for record in events if record.get("event") == "done"}
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
        stale=stale_references(rotation, old_fp, new_fp, revoked),
    )


def stale_references(rotation: Rotation, old_fp: str | None, new_fp: str | None,
                     revoked: set[object]) -> str | None:
    """What to change when `old` still points at a key keyturn revoked (a reference
    keyturn does not move: env:, another keychain name), else None."""
    if old_fp is None or old_fp not in revoked:
        return None
    said = f"`old` ({rotation.old}) still holds the revoked key {old_fp}"
    if new_fp is not None and new_fp not in revoked:
        return said + f"; put the key in service ({new_fp}, now at {rotation.new}) there"
    return said + "; put the key in service there"


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


def resume(engine: RotationEngine, audit: AuditLog | None) -> ResumePoint | None:
    """Restore `engine` (before `start()`) from the audit log; the point it resumed from.

    A `done` point is returned without touching the engine: that old key's rotation is
    finished and the caller says so instead of probing again. An `unanswered` point (the
    run stopped around the admin call) is returned untouched too: only the provider can
    say what became of the key, and the run asks it (admin_revoke.resume_unanswered).
    """
    if audit is None:
        return None
    point = resume_point(audit.events(engine.rotation.name), engine.keys.old.fingerprint)
    if point is None or point.phase == "done":
        return point
    if point.unanswered and point.method != "console":
        engine.revoked.add(engine.keys.old.fingerprint)  # nothing is sent before it is known
        return point
    engine.restore(Phase(point.phase), key_id=point.key_id)
    return point


# -- key slots ------------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    """What happened to the key slots after a finished rotation, in one sentence."""

    promoted: bool
    message: str


def promote_slots(rotation: Rotation, keys: Keys, audit: AuditLog) -> Promotion:
    """After a confirmed rotation, move NEW into the OLD slot and clear NEW.

    Only for keyturn's default keychain names; other references are the user's to update,
    and the message says which. The audit log must show the OLD key's revocation
    confirmed (`done`): nothing is moved or removed before that.
    """
    from tui.engine.credentials import (
        KeychainUnavailable,
        keychain_delete,
        keychain_get,
        keychain_set,
    )

    old_fp = keys.old.fingerprint
    new_fp = keys.new.fingerprint if keys.new is not None else None
    point = resume_point(audit.events(rotation.name), old_fp)
    if new_fp is None or point is None or point.phase != "done":
        return Promotion(False, "key slots left as they are: the old key's revocation is not "
                                "confirmed in the audit log")
    if rotation.old == "prompt" and rotation.new == "prompt":
        return Promotion(False, f"keys were entered at a prompt: next time, the key {new_fp} "
                                "is the OLD key")
    if not rotation.uses_default_slots():
        return Promotion(False, (
            f"update your references: `old` ({rotation.old}) must now hold the new key "
            f"(fingerprint {new_fp}), which is in service; `new` ({rotation.new}) can then be "
            "emptied for the next rotation"))
    old_ref, new_ref = Reference.parse(rotation.old), Reference.parse(rotation.new)
    try:
        raw = keychain_get(new_ref.service, new_ref.name)
        if raw is None or Secret(raw).fingerprint != new_fp:
            return Promotion(False, f"{new_ref} no longer holds the key {new_fp}; key slots left "
                                    "as they are")
        keychain_set(old_ref.service, old_ref.name, raw)
        # Read back before clearing NEW: a keychain that silently dropped the write must
        # not leave us with no copy of the key in service.
        back = keychain_get(old_ref.service, old_ref.name)
        if back is None or Secret(back).fingerprint != new_fp:
            return Promotion(False, f"the keychain did not keep the new key at {old_ref}; "
                                    f"{new_ref} left as it is")
        keychain_delete(new_ref.service, new_ref.name)
    except KeychainUnavailable as exc:
        return Promotion(False, f"key slots not promoted: {exc}")
    audit.append(rotation.name, "slots_promoted", old=new_fp, previous_old=old_fp)
    return Promotion(True, f"keychain: the new key ({new_fp}) is now the OLD key at {old_ref}; "
                           f"{new_ref} is empty, ready for the next rotation")


def finish_interrupted_promotion(rotation: Rotation, audit: AuditLog) -> Promotion | None:
    """A crash between writing OLD and clearing NEW leaves the new key in both slots;
    clear NEW when the audit log shows that key's rotation finished. None when no repair."""
    from tui.engine.credentials import KeychainUnavailable, keychain_delete, keychain_get

    if not rotation.uses_default_slots():
        return None
    old_ref, new_ref = Reference.parse(rotation.old), Reference.parse(rotation.new)
    try:
        old_raw = keychain_get(old_ref.service, old_ref.name)
        new_raw = keychain_get(new_ref.service, new_ref.name)
        if not old_raw or old_raw != new_raw:
            return None
        key_fp = Secret(new_raw).fingerprint
        finished = any(r.get("event") == "done" and r.get("new") == key_fp
                       for r in audit.events(rotation.name))
        if not finished:
            return None
        keychain_delete(new_ref.service, new_ref.name)
    except KeychainUnavailable:
        return None
    audit.append(rotation.name, "slots_promoted", old=key_fp, repaired=True)
    return Promotion(True, f"keychain: finished an interrupted promotion: {new_ref} emptied, "
                           f"{old_ref} holds the key in service ({key_fp})")


@dataclass(frozen=True)
class Finished:
    report: Path | None
    promotion: Promotion | None


def finish(state_dir: Config | Path | str, engine: RotationEngine, *, promote: bool = True) -> Finished:
    """A rotation reached `done`: write its report and (unless told not to) promote its
    key slots."""
    if engine.phase is not Phase.DONE:
        raise ValueError(f"rotation is {engine.phase}, not done")
    report = write_report(state_dir, engine.rotation.name, engine)
    if not promote:
        return Finished(report, None)
    audit = AuditLog(state_dir_of(state_dir))
    return Finished(report, promote_slots(engine.rotation, engine.keys, audit))
