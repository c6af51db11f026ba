"""Streaks and the gate: every rule that unlocks Revoke, in one place.

Pure logic, no I/O and no clock of its own: fed one ProbeResult at a time (and, for the
deployment, the samples of each tick with the time they came in), it says whether
Revoke may be pressed now and, if not, why in plain words. The gate is live, not
latched: one breaking result locks it again until the streak is rebuilt, and one
sample on the OLD key locks it until the evidence is rebuilt.

The bound on the share of traffic still on OLD lives in `bound.py`; the gate asks it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from providers.results import ProbeResult, Verdict
from tui.engine.bound import OldShare
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
    #: The deployment's samples since OLD was last seen (None: the bound is not in use).
    evidence: OldShare | None = None

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
        if self.evidence is not None:
            self.evidence.restart()

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
    """Which key a deployment answer says it serves: NEW, OLD, MISMATCH, `unknown key` (it
    answered without naming one) or `no answer` (it did not answer at all)."""
    if result is None:
        return "not probed yet"
    fp = result.served_fingerprint
    if fp is None:
        return "no answer" if result.verdict is Verdict.UNREACHABLE else "unknown key"
    if new_fp and fp == new_fp:
        return "NEW"
    if old_fp and fp == old_fp:
        return "OLD"
    return "MISMATCH"


def evaluate(
    new: Track | None, deployment: Track | None, old_fp: str | None, new_fp: str | None,
    now: float | None = None,
) -> GateState:
    """The gate at `now`, with the reasons it is locked in plain words.

    Revoke unlocks when the NEW key's last `streak` probes were live, and — with a
    deployment — its last `streak` ticks were live on NEW, none of them reported OLD,
    and (when its track carries evidence) the bound on the share of traffic still on
    OLD is at most `max_old_share`.
    """
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
        if last is None and deployment.last is not None:
            last = deployment.last  # only answers that named no key: say what they were
        where = serving(last, old_fp, new_fp)
        if where == "OLD":
            reasons.append("deployment still serving OLD")
        elif where == "MISMATCH":
            reasons.append("deployment serves a key that is neither OLD nor NEW")
        elif where == "no answer":
            assert last is not None
            reasons.append(f"deployment did not answer ({last.detail or last.verdict.value})")
        elif where == "unknown key":
            assert last is not None
            if last.verdict is Verdict.LIVE:
                reasons.append("deployment does not report which key it serves")
            else:
                reasons.append(f"deployment answered {last.verdict.value} without naming a key"
                               + (f" ({last.detail})" if last.detail else ""))
        if not deployment.complete:
            reasons.append(
                f"deployment {min(deployment.streak, deployment.need)}/{deployment.need} live on NEW"
            )
        elif old_fp is not None and old_fp in deployment.served:
            # Cannot happen with a complete streak, but the rule is stated on its own.
            reasons.append("deployment served OLD within the last streak")
        if deployment.evidence is not None and where != "OLD":
            # (While the deployment is serving OLD, that reason says it: the count is 0.)
            missing = deployment.evidence.missing(now)
            if missing:
                reasons.append(missing)
    return GateState(not reasons, tuple(reasons))


def with_old_key_state(gate: GateState, old: Track) -> GateState:
    """The gate, also locked while the OLD key itself is refused: someone revoked it
    already (another tool, the console), so there is nothing left to revoke safely."""
    last = old.last
    if last is None or last.verdict is not Verdict.REJECTED:
        return gate
    return GateState(False, (*gate.reasons, "the OLD key is already refused by the provider "
                                            "(revoked elsewhere?): nothing to revoke"))


# -- a deployment tick: many samples, one answer that speaks for them ---------------------


@dataclass(frozen=True, slots=True)
class Sampled(ProbeResult):
    """One deployment tick: the answer that speaks for it, with every sample behind it."""

    samples: tuple[ProbeResult, ...] = ()

    def alone(self) -> ProbeResult:
        """The tick's answer without its samples (what the track keeps)."""
        return ProbeResult(self.verdict, self.status, self.latency_ms, self.request_id,
                           self.detail, self.retry_after, self.served_fingerprint, self.at)


def summarize(samples: Sequence[ProbeResult], old_fp: str | None, new_fp: str | None) -> Sampled:
    """The tick's answer: the worst key named and the worst verdict among its samples.

    Key named: one that is neither OLD nor NEW, else OLD, else NEW, else none. Verdict:
    THROTTLED if any sample was throttled (the scheduler backs off for the longest
    retry-after); else the worst of the answers that are evidence (REJECTED, then
    UNEXPECTED, then LIVE) — a timeout among forty answers breaks nothing; only when
    every sample failed to answer is the tick itself indeterminate.
    """
    if not samples:
        return Sampled(Verdict.UNEXPECTED, detail="no samples sent")
    named = {r.served_fingerprint for r in samples}
    strangers = named - {old_fp, new_fp, None}
    if strangers:
        served = next(r.served_fingerprint for r in samples if r.served_fingerprint in strangers)
    else:
        served = next((fp for fp in (old_fp, new_fp) if fp is not None and fp in named), None)
    verdicts = {r.verdict for r in samples}
    retry_after = None
    if Verdict.THROTTLED in verdicts:
        throttled = [r for r in samples if r.verdict is Verdict.THROTTLED]
        waits = [r.retry_after for r in throttled if r.retry_after is not None]
        retry_after = max(waits) if waits else None
        speaker = max(throttled, key=lambda r: r.retry_after or 0.0)
        verdict = Verdict.THROTTLED
    elif answered := [v for v in (Verdict.REJECTED, Verdict.UNEXPECTED, Verdict.LIVE)
                      if v in verdicts]:
        verdict = answered[0]
        same = [r for r in samples if r.verdict is verdict]
        speaker = next((r for r in same if r.served_fingerprint == served), same[0])
    else:
        speaker = samples[0]
        verdict = speaker.verdict
    detail = speaker.detail
    if len(samples) > 1 and verdict is not Verdict.LIVE:
        count = sum(1 for r in samples if r.verdict is verdict)
        detail = f"{detail} ({count} of {len(samples)} samples)" if detail else \
            f"{count} of {len(samples)} samples"
    return Sampled(verdict, speaker.status, max(r.latency_ms for r in samples),
                   speaker.request_id, detail, retry_after, served,
                   max(r.at for r in samples), tuple(samples))


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


def usage_rule(usage: Usage | None, drain: float = 0.0) -> tuple[str, ...]:
    """The provider's own count, as reasons that keep Revoke locked (none: it agrees).

    Locked while the usage report shows the OLD key used in a counted minute that starts
    after the switch (the deployment's first answer on NEW after its last on OLD, or keyturn's
    first sight of it on NEW; see usage.py): something other than the deployment still uses
    it. With `drain` (seconds), also
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
    if usage.old_id is None:
        reasons.append(f"drain {drain_words(drain)}: the provider's report cannot show the OLD "
                       f"key unused while its key id is not known ({usage.why or report})")
    elif usage.deployment:
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
