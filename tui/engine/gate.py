"""Streaks and the gate: the rule that unlocks Revoke, only after a streak of live
answers from the NEW key and (when there is one) from the deployment, serving NEW.

Pure logic, no I/O and no clock: fed one ProbeResult at a time, it says whether
Revoke may be pressed now and, if not, why in plain words. The gate is live, not
latched: one breaking result locks it again until the streak is rebuilt.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from providers.results import ProbeResult, Verdict
from tui.engine.usage_words import amount, drain_words, hhmm

if TYPE_CHECKING:
    from tui.engine.usage import Usage

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


def usage_rule(usage: Usage | None, drain: float = 0.0) -> tuple[str, ...]:
    """The provider's own count, as reasons that keep Revoke locked (none: it agrees).

    Locked while the usage report shows the OLD key used in a counted minute that starts
    after the switch (the deployment's last report of OLD, or keyturn's first sight of it on
    NEW): something other than the deployment still uses it. With `drain` (seconds), also
    until the report has counted that long after the switch (without a deployment: that long
    since OLD's last counted use). A minute the report has not reached is never taken for a
    quiet one, and a report that cannot be read locks nothing but a drain it cannot cover.
    """
    if usage is None or usage.state == "off":
        return ()
    reasons: list[str] = []
    if usage.old_after_switch:
        start, count = usage.old_after_switch[-1]
        reasons.append(f"the provider counted {amount(count, usage.unit)} on the OLD key at "
                       f"{hhmm(start)} UTC, {usage.switch_words} — something else still uses it")
    if drain <= 0:
        return tuple(reasons)
    report = f"report to {hhmm(usage.covered_to)} UTC" if usage.covered_to else "nothing counted yet"
    if usage.state == "unavailable":
        report += f"; usage report unavailable ({usage.why})"
    if usage.deployment:
        if usage.switch_at is None:
            reasons.append(f"drain {drain_words(drain)}: waiting for the deployment to move to NEW")
        elif usage.covered_to is None or usage.covered_to < usage.switch_at + drain:
            need = -(-(usage.switch_at + drain) // 60) * 60
            reasons.append(f"drain {drain_words(drain)}: waiting for the provider's report to "
                           f"count {drain_words(drain)} after the switch ({report}; needs "
                           f"{hhmm(need)} UTC)")
    elif usage.quiet_since is None or usage.covered_to is None or (
        usage.covered_to < usage.quiet_since + drain
    ):
        last = (f"last counted {hhmm(usage.old_last_used)} UTC; "
                if usage.old_last_used is not None else "")
        reasons.append(f"drain {drain_words(drain)}: waiting for the provider's report to show "
                       f"the OLD key unused for {drain_words(drain)} ({last}{report})")
    return tuple(reasons)


def with_usage(gate: GateState, reasons: tuple[str, ...]) -> GateState:
    """The gate, also locked by the usage rule's reasons."""
    if not reasons:
        return gate
    return GateState(False, (*gate.reasons, *reasons))
