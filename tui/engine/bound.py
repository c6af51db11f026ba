"""The bound on the share of traffic still on OLD: the deployment's samples as evidence.

A deployment can hold a split (a staged rollout, a lagging region): most
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
