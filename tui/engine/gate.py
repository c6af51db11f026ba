"""Streaks and the gate: the rule that unlocks Revoke, only after a streak of live
answers from the NEW key and (when there is one) from the deployment, serving NEW.

Pure logic, no I/O and no clock: fed one ProbeResult at a time, it says whether
Revoke may be pressed now and, if not, why in plain words. The gate is live, not
latched: one breaking result locks it again until the streak is rebuilt.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from providers.results import ProbeResult, Verdict

#: Results kept per target for the screen's history strip; memory stays flat.
HISTORY = 120


class Role(StrEnum):
    OLD = "old"
    NEW = "new"
    DEPLOYMENT = "deployment"


@dataclass
class Track:
    """One target's recent results and its current streak of qualifying answers."""

    role: Role
    need: int
    policy: str = "reset"  # what an indeterminate result does: "reset" or "hold"
    streak: int = 0
    probes: int = 0
    last: ProbeResult | None = None
    history: deque[ProbeResult] = field(default_factory=lambda: deque(maxlen=HISTORY))
    #: Fingerprints the deployment reported in its last `need` probes (None: not reported).
    served: deque[str | None] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.served = deque(self.served, maxlen=self.need)

    def record(self, result: ProbeResult, qualifies: bool) -> None:
        self.probes += 1
        self.last = result
        self.history.append(result)
        if self.role is Role.DEPLOYMENT:
            self.served.append(result.served_fingerprint)
        if qualifies:
            self.streak = min(self.streak + 1, self.need * 1000)
        elif result.verdict.indeterminate and self.policy == "hold":
            pass
        else:
            self.streak = 0

    def reset(self) -> None:
        self.streak = 0
        self.last = None
        self.history.clear()
        self.served.clear()

    @property
    def complete(self) -> bool:
        return self.streak >= self.need


def qualifies(role: Role, result: ProbeResult, new_fp: str | None, verifying: bool = False) -> bool:
    """Whether `result` extends its target's streak.

    NEW and DEPLOYMENT streaks count healthy answers (the deployment's only when it
    reports the NEW key). OLD counts `live` before revoke and `rejected` after it,
    which is how "revocation confirmed" is proven.
    """
    if role is Role.OLD:
        return result.verdict is (Verdict.REJECTED if verifying else Verdict.LIVE)
    if result.verdict is not Verdict.LIVE:
        return False
    if role is Role.DEPLOYMENT:
        return new_fp is not None and result.served_fingerprint == new_fp
    return True


@dataclass(frozen=True)
class GateState:
    open: bool
    reasons: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        if self.open:
            return "Revoke unlocked"
        return "; ".join(self.reasons) or "locked"


def serving(result: ProbeResult | None, old_fp: str | None, new_fp: str | None) -> str:
    """Which key a deployment answer says it serves: NEW, OLD, unknown key, or MISMATCH."""
    if result is None:
        return "not probed yet"
    fp = result.served_fingerprint
    if fp is None:
        return "unknown key"
    if new_fp and fp == new_fp:
        return "NEW"
    if old_fp and fp == old_fp:
        return "OLD"
    return "MISMATCH"


def evaluate(
    new: Track | None, deployment: Track | None, old_fp: str | None, new_fp: str | None
) -> GateState:
    """The gate at this moment, with the reasons it is locked in plain words."""
    reasons: list[str] = []
    if new is None or new_fp is None:
        return GateState(False, ("no new key yet",))
    if not new.complete:
        reasons.append(f"new key {min(new.streak, new.need)}/{new.need} live")
    if deployment is not None:
        last = deployment.last
        if deployment.policy == "hold":
            # A timeout or a 5xx that names no key is no evidence: under `hold` it must not
            # re-lock the gate; judge the key served from the last answer that names one.
            last = next((r for r in reversed(deployment.history)
                         if not (r.verdict.indeterminate and r.served_fingerprint is None)), None)
        where = serving(last, old_fp, new_fp)
        if where == "OLD":
            reasons.append("deployment still serving OLD")
        elif where == "MISMATCH":
            reasons.append("deployment serves a key that is neither OLD nor NEW")
        elif where == "unknown key":
            reasons.append("deployment does not report which key it serves")
        if not deployment.complete:
            reasons.append(
                f"deployment {min(deployment.streak, deployment.need)}/{deployment.need} live on NEW"
            )
        elif old_fp is not None and old_fp in deployment.served:
            # Cannot happen with a complete streak, but the rule is stated on its own.
            reasons.append("deployment served OLD within the last streak")
    return GateState(not reasons, tuple(reasons))


def with_old_key_state(gate: GateState, old: Track) -> GateState:
    """The gate, also locked while the OLD key itself is refused: someone revoked it
    already (another tool, the console), so there is nothing left to revoke safely."""
    last = old.last
    if last is None or last.verdict is not Verdict.REJECTED:
        return gate
    return GateState(False, (*gate.reasons, "the OLD key is already refused by the provider "
                                            "(revoked elsewhere?): nothing to revoke"))


@dataclass(frozen=True)
class PlatformRollout:
    """What a platform (a Cloudflare Worker) says takes its traffic, beside when keyturn
    wrote the NEW key there. Plain data: the engine reads it, this module judges it."""

    name: str
    #: When keyturn wrote this NEW key there, by the platform's own clock; None: it has not
    #: (or wrote OLD back since).
    written_at: datetime | None
    #: The serving deployment: (version, percentage, version created) per version; empty
    #: when it was never read, or the last read was refused (auth, not found).
    shares: tuple[tuple[str, float, datetime | None], ...] = ()
    #: Why the last read failed, if it did.
    problem: str | None = None


#: Platform times are compared with the `Date` of its answer to the write (whole seconds).
WRITE_SLACK = timedelta(seconds=1)


def with_platform_rollout(gate: GateState, rollouts: tuple[PlatformRollout, ...]) -> GateState:
    """The gate, also locked while a platform's serving deployment gives traffic to a
    version created before keyturn wrote the NEW key there: that version holds the old
    secret, whatever the deployment probe happened to reach. The platform's word, on top
    of the other rules; a version whose creation time could not be read keeps it locked too."""
    reasons: list[str] = []
    for r in rollouts:
        if r.written_at is None:
            reasons.append(f"NEW key not written to {r.name} yet (w, or `keyturn push`)")
        elif not r.shares:
            reasons.append(f"{r.name}: {r.problem or 'deployments not read yet'}")
        else:
            serving = [(v, pct, created) for v, pct, created in r.shares if pct > 0]
            older = [(v, pct) for v, pct, created in serving
                     if created is not None and created < r.written_at - WRITE_SLACK]
            unknown = [(v, pct) for v, pct, created in serving if created is None]
            if older:
                on = ", ".join(f"{pct:g} % on version {v}" for v, pct in older)
                reasons.append(f"{r.name}: {on} from before the NEW key was written")
            if unknown:
                on = ", ".join(f"{pct:g} % on version {v}" for v, pct in unknown)
                reasons.append(f"{r.name}: {on}, whose creation time could not be read")
    if not reasons:
        return gate
    return GateState(False, (*gate.reasons, *reasons))
