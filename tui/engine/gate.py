"""Streaks, the bound on the OLD share, and the gate: the rules that unlock Revoke.

Pure logic, no I/O and no clock of its own: fed one ProbeResult at a time (and, for the
deployment, the samples of each tick with the time they came in), it says whether
Revoke may be pressed now and, if not, why in plain words. The gate is live, not
latched: one breaking result locks it again until the streak is rebuilt, and one
sample on the OLD key locks it until the evidence is rebuilt.

The bound. A deployment can hold a split (a staged rollout, a lagging region): most
requests on NEW, a few still on OLD. Each deployment tick sends several requests, and
every answer that names a key is a sample. After n samples on NEW and none on OLD, the
one-sided upper bound on the share of traffic still on OLD at confidence 1 - c is
`1 - c^(1/n)`; with c = 5 % that is about 3/n. keyturn looks at that count after every
tick, and every OLD sample starts a fresh count: a steady 1 % tail would, within
minutes, produce one run of 299 NEW samples (the single-look 95 % figure for 1 %) by
luck. So c is shared out over the looks: the first WATCH seconds of watching get half
of the 5 %, split evenly over the counts a tail at exactly `max_old_share` would start
in that time; each later doubling of the watch gets half of what is left. Whatever the
share, the chance that a tail at or above `max_old_share` ever opens the gate stays
under 5 %, however long keyturn watches.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from providers.results import ProbeResult, Verdict
from tui.engine.usage_words import amount, drain_words, hhmm

if TYPE_CHECKING:
    from tui.engine.usage import Usage

#: Results kept per target for the screen's history strip; memory stays flat.
HISTORY = 120
#: The bound's confidence: the chance a tail at `max_old_share` opens the gate stays below
#: 1 - CONFIDENCE, however long keyturn watches.
CONFIDENCE = 0.95
#: Seconds of watching that get the first half of the error budget (each doubling after
#: it gets half of the rest).
WATCH = 600.0
#: Deployment samples kept for the OLD/NEW mix on screen.
MIX = 200
#: Ticks kept to measure the current sample rate (for "about N s more").
RATE_TICKS = 10


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


# -- the bound on the share of traffic still on OLD --------------------------------------


def error_budget(max_share: float, rate: float, watched: float) -> float:
    """The chance c allowed to one count of NEW samples that starts after `watched` seconds.

    The first WATCH seconds share half of 1 - CONFIDENCE, the next WATCH seconds a
    quarter, the WATCH·2 after them an eighth, and so on; within each stretch the share
    is split evenly over the counts a tail at exactly `max_share` would start in it
    (one per OLD sample, at `rate` samples a second at most, plus the one running).
    """
    if watched < WATCH:
        stretch, length = 0, WATCH
    else:
        stretch = int(math.log2(watched / WATCH)) + 1
        length = WATCH * 2 ** (stretch - 1)
    counts = 1.0 + max_share * rate * length
    return (1.0 - CONFIDENCE) / 2 ** (stretch + 1) / counts


def share_bound(n: int, budget: float) -> float:
    """Upper bound on the OLD share after `n` NEW samples and no OLD one: 1 - c^(1/n)."""
    if n <= 0:
        return 1.0
    return -math.expm1(math.log(budget) / n)


@functools.lru_cache(maxsize=256)
def samples_needed(max_share: float, budget: float) -> int:
    """The fewest NEW samples in a row whose bound is at most `max_share` (0 when 1.0)."""
    if max_share >= 1.0:
        return 0
    n = max(1, math.ceil(math.log(budget) / math.log1p(-max_share)))
    # The closed form can be one off in floating point: settle on the bound itself.
    while n > 1 and share_bound(n - 1, budget) <= max_share:
        n -= 1
    while share_bound(n, budget) > max_share:
        n += 1
    return n


def percent(share: float) -> str:
    """`3.1 %`, `0.96 %`, `1 %`, `0.012 %`: two significant figures, never rounded to 0."""
    value = share * 100
    if value >= 10:
        return f"{value:.0f} %"
    if value <= 0:
        return "0 %"
    digits = max(0, 1 - math.floor(math.log10(value)))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") + " %"


@dataclass
class OldShare:
    """The deployment's samples as evidence: NEW samples since OLD was last seen (n).

    Fed once per deployment tick with the fingerprints its answers named. A tick with
    an OLD sample (or a key that is neither) sets n to 0: its samples went out together,
    so its NEW answers are not "after" the OLD one. Answers that name no key (timeouts,
    5xx, a deployment that does not report) are no evidence: they neither count nor reset.
    """

    max_share: float
    #: Samples per second at most (samples per tick ÷ interval): the looks keyturn takes.
    rate: float
    since_old: int = 0
    old_last_seen_at: float | None = None
    started_at: float | None = None
    last_at: float | None = None
    #: Answers that named a key, and sample requests sent (named or not).
    samples: int = 0
    requests: int = 0
    #: The keys the last MIX samples named, and the OLD and NEW fingerprints of the last tick.
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=MIX))
    old_fp: str | None = None
    new_fp: str | None = None
    #: (time, samples that named a key) of the last ticks, and their sum: the current rate.
    ticks: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=RATE_TICKS))
    _ticked: int = 0

    def add(self, fingerprints: Sequence[str | None], old_fp: str | None, new_fp: str | None,
            at: float) -> None:
        """One tick's samples, in the order they came in (None: the answer named no key)."""
        if self.started_at is None:
            self.started_at = at
        self.last_at = at
        self.old_fp, self.new_fp = old_fp, new_fp
        self.requests += len(fingerprints)
        new = fingerprints.count(new_fp) if new_fp is not None else 0
        unnamed = fingerprints.count(None)
        other = len(fingerprints) - new - unnamed  # OLD, or a key that is neither
        named = new + other
        self.samples += named
        if len(self.ticks) == RATE_TICKS:
            self._ticked -= self.ticks[0][1]
        self.ticks.append((at, named))
        self._ticked += named
        self.recent.extend(fingerprints if not unnamed else [fp for fp in fingerprints if fp])
        if other:
            if old_fp is not None and old_fp in fingerprints:
                self.old_last_seen_at = at
            self.since_old = 0
        else:
            self.since_old += new

    def restart(self) -> None:
        """A new NEW key: samples that named the previous one are no evidence for it."""
        self.since_old = 0
        self.recent.clear()

    def budget(self, now: float | None = None) -> float:
        watched = 0.0
        if self.started_at is not None:
            when = now if now is not None else self.last_at
            watched = max(0.0, (when or self.started_at) - self.started_at)
        return error_budget(self.max_share, self.rate, watched)

    def needed(self, now: float | None = None) -> int:
        return samples_needed(self.max_share, self.budget(now))

    def bound(self, now: float | None = None) -> float:
        return share_bound(self.since_old, self.budget(now))

    def current_rate(self) -> float:
        """Samples that named a key per second over the last ticks (the configured rate
        until two ticks are in)."""
        if len(self.ticks) < 2:
            return self.rate
        span = self.ticks[-1][0] - self.ticks[0][0]
        counted = self._ticked - self.ticks[0][1]  # the first tick's samples came before the span
        return counted / span if span > 0 else self.rate

    def mix(self) -> tuple[int, int, int]:
        """(OLD, NEW, neither) among the last MIX samples."""
        old = self.recent.count(self.old_fp) if self.old_fp else 0
        new = self.recent.count(self.new_fp) if self.new_fp else 0
        return old, new, len(self.recent) - old - new

    def missing(self, now: float | None = None) -> str | None:
        """The gate's reason while the bound is above `max_share` (None: it is not)."""
        if self.max_share >= 1.0:  # the bound is off
            return None
        budget = self.budget(now)
        needed = samples_needed(self.max_share, budget)
        n = self.since_old
        if n >= needed:
            return None
        rate = self.current_rate()
        return missing_words(share_bound(n, budget), n, needed, self.old_last_seen_at is not None,
                             (needed - n) / rate if rate > 0 else None)

    def figures(self, now: float | None = None) -> Evidence:
        budget = self.budget(now)
        needed = samples_needed(self.max_share, budget)
        rate = self.current_rate()
        missing = max(0, needed - self.since_old)
        when = now if now is not None else self.last_at
        return Evidence(
            n=self.since_old,
            needed=needed,
            bound=share_bound(self.since_old, budget),
            max_old_share=self.max_share,
            old_last_seen_at=self.old_last_seen_at,
            since_old_seen=(None if self.old_last_seen_at is None or when is None
                            else max(0.0, when - self.old_last_seen_at)),
            mix=self.mix(),
            samples=self.samples,
            requests=self.requests,
            rate=rate,
            eta=missing / rate if missing and rate > 0 else (0.0 if not missing else None),
        )


@dataclass(frozen=True)
class Evidence:
    """The figures behind the bound at one moment: what the card, the gate's reason, the
    audit log and the CLI show."""

    #: NEW samples since OLD was last seen, and how many the bound needs.
    n: int
    needed: int
    #: Upper bound on the share of traffic still on OLD (CONFIDENCE), and the limit.
    bound: float
    max_old_share: float
    #: Clock time OLD was last seen (None: never), and seconds since then.
    old_last_seen_at: float | None
    since_old_seen: float | None
    #: (OLD, NEW, neither) among the last MIX samples.
    mix: tuple[int, int, int]
    #: Samples that named a key, and sample requests sent, in this run.
    samples: int
    requests: int
    #: Samples that named a key per second, lately.
    rate: float
    #: Seconds until n reaches `needed` at that rate (None: no rate to go by).
    eta: float | None

    @property
    def enough(self) -> bool:
        return self.n >= self.needed

    def bound_text(self) -> str:
        """`OLD share < 0.96 % (95 %)`."""
        return f"OLD share < {percent(self.bound)} ({percent(CONFIDENCE)})"

    def missing(self) -> str:
        """Why the bound keeps the gate shut, with numbers and an estimate."""
        return missing_words(self.bound, self.n, self.needed, self.old_last_seen_at is not None,
                             self.eta)

    def audit_fields(self) -> dict[str, object]:
        return {
            "samples_since_old": self.n,
            "samples_needed": self.needed,
            "old_share_bound": round(self.bound, 6),
            "max_old_share": self.max_old_share,
            "old_last_seen_s": (None if self.since_old_seen is None
                                else round(self.since_old_seen, 1)),
        }


def missing_words(bound: float, n: int, needed: int, old_seen: bool, eta: float | None) -> str:
    """`OLD may still carry up to 8.5 % of traffic: 96 of 845 NEW samples since OLD was
    last seen, about 38 s more`."""
    since = "since OLD was last seen" if old_seen else "(OLD not seen)"
    words = (f"OLD may still carry up to {percent(bound)} of traffic: "
             f"{n} of {needed} NEW samples {since}")
    if n > 0 and eta is not None and eta > 0:  # counting up, not just reset by OLD
        words += f", about {math.ceil(eta)} s more"
    return words


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
