"""The provider's count, watched: the usage poller, the switch it is judged against, and
the figures every front end shows (the TRAFFIC view, `probe --json`, `watch --headless`,
the Markdown report) and the gate judges (gate.usage_rule).

The report trails real traffic by minutes, so a minute counts only once the report has
reached it: `covered_to` is the end of the last bucket the report returned, and never
nearer to the read than SETTLE (a provider may return the latest buckets before it has
counted into them). A minute after it is "not yet counted", never zero. A read that fails keeps what earlier
reads counted, says why, and touches nothing else: not the probes, not the gate's other
rules. Reads come at most once a minute (longer after a failure, or when the provider's
`retry-after` asks), in their own task.

The switch is what the deployment probe saw: the first answer on NEW after its last answer
on OLD (between those two probes the deployment's own requests may still have been on
OLD), or, when it never named OLD while keyturn watched, the moment keyturn first saw it
on NEW; while it still names OLD, its last answer on OLD. A counted minute is "after" it
when it starts more than SKEW after it (the provider's clock is not keyturn's).

A minute counts for a key only if that key's id was asked for when the minute was read:
a minute read before the OLD key's id was known says nothing about the OLD key.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from providers.errors import AdminError, AdminKeyInactive
from providers.usage import (
    MINUTE,
    Count,
    ReportClock,
    UsageReport,
    UsageUnavailable,
    dialect_for,
    read_usage,
)
from tui.engine.credentials import redact

if TYPE_CHECKING:
    from providers.base import Provider
    from providers.lazy import httpx
    from tui.engine.rotation import RotationEngine
    from tui.engine.scheduler import Clock
    from tui.engine.session import Keys

#: Report seconds between two reads, at least.
EVERY = 60.0
#: Longest wait after failures (the provider's retry-after may ask for more).
MAX_WAIT = 600.0
#: The report is trusted no nearer to the read than this (Anthropic says its counts appear
#: within about five minutes); a minute nearer is "not yet counted".
SETTLE = 5 * MINUTE
#: Minutes the TRAFFIC view shows, ending with the current one.
SHOWN = 30
#: The first read reaches this far before keyturn started watching.
LOOKBACK = SHOWN * MINUTE
#: Each later read goes back this far before the covered end: late counts land there.
REREAD = 15 * MINUTE
#: Minutes kept whole (an hour); of older ones only the OLD key's used minutes are kept
#: (what the gate reads), so memory stays flat however long keyturn watches.
KEEP = 60
#: Seconds a minute must start after the switch to count as after it: the provider's clock
#: and keyturn's differ by a little, and a request sent on OLD just before the switch may be
#: counted a moment later.
SKEW = 5.0
#: A key id keyturn sends back: plain (find_admin_key refuses others).
PLAIN_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def floor_minute(ts: float) -> int:
    return int(ts // MINUTE * MINUTE)


@dataclass(frozen=True)
class Minute:
    start: int
    #: The count in the report's unit; None: the report has not reached this minute.
    old: int | None
    new: int | None


@dataclass(frozen=True)
class Usage:
    """The provider's count as keyturn shows and judges it, at one moment."""

    #: `off` (no admin key, or no report for this provider), `reading` (no answer yet),
    #: `ok`, or `unavailable` (the last read failed; earlier counts are kept).
    state: str
    why: str = ""
    unit: str = "tokens"
    now: float = 0.0
    #: Minutes before this (UTC seconds) are counted; None: nothing counted yet.
    covered_to: int | None = None
    read_at: float | None = None
    #: The SHOWN minutes ending with the current one, oldest first.
    minutes: tuple[Minute, ...] = ()
    old_id: str | None = None
    new_id: str | None = None
    #: The start of OLD's last counted minute with use, and its count.
    old_last_used: int | None = None
    old_last_count: int = 0
    #: Whether a deployment witnesses the switch; the switch moment and how it was seen.
    deployment: bool = False
    switch_at: float | None = None
    switch_words: str = ""
    #: Counted minutes starting after the switch in which OLD was used: (start, count).
    old_after_switch: tuple[tuple[int, int], ...] = ()
    #: NEW's count in the counted minutes from `new_since` on: the switch's minute, or the
    #: first minute still kept when the switch is older than KEEP minutes.
    new_since_switch: int | None = None
    new_since: int | None = None
    #: Without a deployment: OLD counted unused from here (the end of its last used minute).
    quiet_since: int | None = None

    @property
    def counting(self) -> bool:
        return self.state in ("ok", "unavailable") and self.covered_to is not None

    def ago(self, ts: float) -> str:
        return f"{max(0, int(self.now - ts) // MINUTE)} min ago"


@dataclass(frozen=True)
class UsageUpdated:
    """An engine event: a read of the usage report finished (or failed)."""

    usage: Usage


class UsageWatch:
    """Reads the provider's usage report for the OLD and NEW keys' ids once a minute."""

    def __init__(
        self,
        provider: Provider,
        keys: Keys,
        client: Callable[[], httpx.AsyncClient],
        clock: Clock,
        *,
        timeout: float,
        deployment: bool,
        wall: ReportClock | None = None,
        on_change: Callable[[], None] = lambda: None,
        known_old_id: Callable[[], str | None] = lambda: None,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self.provider, self.keys, self.client, self.clock = provider, keys, client, clock
        self.timeout, self.deployment = timeout, deployment
        self.wall = wall or ReportClock()
        self.on_change, self.known_old_id, self.paused = on_change, known_old_id, paused
        self.dialect = dialect_for(provider)
        self.started_wall = self.wall.now()
        #: Key ids by fingerprint, once the admin key list named them.
        self.ids: dict[str, str] = {}
        self.lookup_errors: dict[str, str] = {}
        self.counts: dict[int, dict[str, Count]] = {}
        #: The key ids asked for when each minute in `counts` was read.
        self.asked: dict[int, frozenset[str]] = {}
        #: A note on the last read that is not a failure (the report read in part).
        self.note: str | None = None
        #: Report seconds a throttled key lookup asked keyturn to wait.
        self.lookup_wait = 0.0
        #: OLD's used minutes older than the KEEP kept whole: key id -> minute -> count.
        self.archive: dict[str, dict[int, int]] = {}
        self.unit = self.dialect.unit if self.dialect else "tokens"
        self.covered_to: int | None = None
        self.read_at: float | None = None
        self.error: str | None = None
        self.reads = 0
        self.failures = 0
        #: Report times the deployment last named OLD, and first named each NEW key.
        self.last_old_at: float | None = None
        self.first_new_at: dict[str, float] = {}
        #: The first answer on NEW after the last on OLD: (NEW's fingerprint, report time).
        self.moved_at: tuple[str, float] | None = None
        self.task: asyncio.Task[None] | None = None
        self._version = 0
        self._cached: tuple[tuple[object, ...], Usage] | None = None

    @classmethod
    def for_engine(cls, engine: RotationEngine) -> UsageWatch:
        return cls(
            engine.provider, engine.keys, engine.http, engine.clock,
            timeout=engine.rotation.timeout * 4, deployment=engine.deployment is not None,
            wall=getattr(engine.provider, "report_clock", None),
            on_change=engine.usage_changed, known_old_id=lambda: engine.admin_key_id,
            paused=lambda: engine.paused,
        )

    @property
    def off(self) -> str | None:
        """Why nothing is read, in words; None when the report is read."""
        if self.keys.admin is None:
            return ("no admin key: with one, keyturn reads the provider's own per-key count "
                    "and keeps Revoke locked while anything else still uses the OLD key")
        if self.dialect is None:
            return f"{self.provider.name} has no usage report keyturn reads"
        return None

    # -- the switch, as the deployment probe saw it ------------------------------------
    def on_event(self, event: object) -> None:
        """An engine listener: a deployment answer names the key it serves."""
        if getattr(event, "role", None) != "deployment":
            return
        served = getattr(getattr(event, "result", None), "served_fingerprint", None)
        new = self.keys.new
        now = self.wall.now()
        if served == self.keys.old.fingerprint:
            self.last_old_at, self.moved_at = now, None
        elif new is not None and served == new.fingerprint:
            if served in self.first_new_at and (self.last_old_at is None or (
                    self.moved_at is not None and self.moved_at[0] == served)):
                return  # on NEW as before: the switch has not moved, the figures stand
            self.first_new_at.setdefault(served, now)
            if self.last_old_at is not None:
                self.moved_at = (served, now)
        else:
            return
        self._version += 1

    def switch(self) -> tuple[float | None, str]:
        """The switch moment and how it was seen (None when the deployment named neither)."""
        new = self.keys.new
        if self.last_old_at is not None:
            if self.moved():
                assert self.moved_at is not None
                return self.moved_at[1], "after your deployment moved to NEW"
            return self.last_old_at, "after your deployment last reported OLD"
        first = self.first_new_at.get(new.fingerprint) if new is not None else None
        return first, "after keyturn first saw your deployment on NEW" if first else ""

    def moved(self) -> bool:
        """The deployment's last answer that named a key named the current NEW key."""
        new = self.keys.new
        if new is None:
            return False
        if self.last_old_at is None:
            return new.fingerprint in self.first_new_at
        return self.moved_at is not None and self.moved_at[0] == new.fingerprint

    # -- reading ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.off is None and self.task is None:
            self.started_wall = self.wall.now()
            self.task = asyncio.create_task(self._run(), name="keyturn-usage")

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            # Paused, keyturn sends nothing at all: the report is read again within a minute
            # of resuming.
            wait = EVERY if self.paused() else await self.poll_once()
            await self.clock.sleep_until(self.clock.now() + wait / self.wall.speed)

    async def poll_once(self) -> float:
        """One read; the report seconds to wait before the next. Never raises."""
        try:
            ids = await self._key_ids()
            since = self._since(ids)
            report = await read_usage(self.provider, self.client(), self.keys.admin, ids,
                                      since, self.timeout, now=self.wall.now())
        except UsageUnavailable as exc:
            wait = self._failed(str(exc), exc.retry_after)
        except Exception as exc:  # a bug here must not stop the reads or touch the probes
            wait = self._failed(f"internal error ({type(exc).__name__})", None)
        else:
            self._merge(report, since, ids)
            wait = EVERY
        wait, self.lookup_wait = max(wait, self.lookup_wait), 0.0
        self._version += 1
        self.on_change()
        return wait

    def _failed(self, why: str, retry_after: float | None) -> float:
        self.failures += 1
        self.error = why
        backoff = EVERY * 2 ** min(self.failures - 1, 4)
        return max(EVERY, min(backoff, MAX_WAIT), retry_after or 0.0)

    def _since(self, ids: list[str]) -> int:
        """From where to read: the whole lookback the first time, and again when a key's id
        has joined since (its earlier minutes were never asked about); else from a little
        before the covered end, where late counts land."""
        start = floor_minute(self.started_wall - LOOKBACK)
        asked = set().union(*self.asked.values()) if self.asked else set()
        if self.covered_to is None or not set(ids) <= asked:
            return start
        return max(start, floor_minute(self.covered_to - REREAD))

    async def _key_ids(self) -> list[str]:
        """The OLD and NEW keys' ids, looked up once each in the admin key list (by hint,
        each told apart from the other key); UsageUnavailable when neither is known."""
        old, new, admin = self.keys.old, self.keys.new, self.keys.admin
        assert admin is not None
        for key, other in ((old, new), (new, old)):
            if key is None or key.fingerprint in self.ids:
                continue
            try:
                found = await self.provider.find_admin_key(
                    self.client(), admin, key, self.timeout, other=other)
                self.ids[key.fingerprint] = found.id
            except AdminKeyInactive as exc:  # revoked already: its count is still readable
                if PLAIN_ID.fullmatch(exc.key_id):
                    self.ids[key.fingerprint] = exc.key_id
            except AdminError as exc:
                self.lookup_errors[key.fingerprint] = str(exc)
                if exc.status == 429 or exc.retry_after:
                    # Throttled: wait as asked, and ask the key list nothing more now.
                    self.lookup_wait = max(self.lookup_wait, exc.retry_after or 0.0)
                    break
            if key is old and old.fingerprint not in self.ids:
                known = self.known_old_id()
                if known and PLAIN_ID.fullmatch(known):
                    self.ids[old.fingerprint] = known
        ids = [self.ids[k.fingerprint] for k in (old, new) if k and k.fingerprint in self.ids]
        if not ids:
            why = self.lookup_errors.get(old.fingerprint, "not in the admin key list")
            raise UsageUnavailable(f"cannot tell which key id is the OLD key: {why}",
                                   self.lookup_wait or None)
        return ids

    def _merge(self, report: UsageReport, since: int, ids: list[str]) -> None:
        now = self.wall.now()
        self.unit, self.read_at, self.error, self.failures = report.unit, now, None, 0
        self.note = (f"the report was read in part ({report.pages} pages); later minutes "
                     "wait for the next read" if report.partial else None)
        self.reads += 1
        end = report.last_end
        if end is None:
            return  # the report reached no minute from `since` on: nothing more is counted
        asked = frozenset(ids)
        for start in range(since, end, MINUTE):
            self.counts[start] = report.minutes.get(start, {})
            self.asked[start] = asked
        covered = min(end, floor_minute(now - SETTLE))
        if covered > (self.covered_to or 0):
            self.covered_to = covered
        for start in sorted(self.counts)[:-KEEP]:
            old_id = self.ids.get(self.keys.old.fingerprint)
            value = self._value(start, old_id)
            if value and old_id:  # the evidence the usage rule reads is never forgotten
                self.archive.setdefault(old_id, {})[start] = value
            del self.counts[start]
            self.asked.pop(start, None)

    # -- the figures -------------------------------------------------------------------------
    def figures(self) -> Usage:
        """The figures now (cached until a read, a deployment answer or the next minute)."""
        now = self.wall.now()
        new = self.keys.new
        key = (self._version, floor_minute(now), new.fingerprint if new else None)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        usage = self._figures(now)
        self._cached = (key, usage)
        return usage

    def _value(self, start: int, key_id: str | None) -> int | None:
        """A key's count in a minute, in the report's unit; None when not yet counted."""
        if self.covered_to is None or start + MINUTE > self.covered_to or start not in self.counts:
            return None
        if key_id is None or key_id not in self.asked.get(start, ()):
            return None  # read before this key's id was known: nothing said about it
        count = self.counts[start].get(key_id or "")
        if count is None:
            return 0
        return count.requests if self.unit == "requests" and count.requests is not None \
            else count.tokens

    def _figures(self, now: float) -> Usage:
        off = self.off
        if off is not None:
            return Usage("off", off, now=now)
        old_fp = self.keys.old.fingerprint
        new = self.keys.new
        old_id = self.ids.get(old_fp)
        new_id = self.ids.get(new.fingerprint) if new is not None else None
        state = "unavailable" if self.error else ("ok" if self.reads else "reading")
        why = self.error or ""
        if not why and self.reads and (old_id is None or (new is not None and new_id is None)):
            missing = "OLD" if old_id is None else "NEW"
            fp = old_fp if old_id is None else new.fingerprint  # type: ignore[union-attr]
            why = f"the {missing} key's id is not known: " + self.lookup_errors.get(
                fp, "not in the admin key list")
        why = redact(why or self.note or "")  # a provider's message may quote a key's hint
        current = floor_minute(now)
        minutes = tuple(
            Minute(start, self._value(start, old_id), self._value(start, new_id))
            for start in range(current - (SHOWN - 1) * MINUTE, current + MINUTE, MINUTE))
        counted = sorted(s for s in self.counts if self._value(s, old_id) is not None)
        archived = self.archive.get(old_id, {}) if old_id else {}
        used = sorted(archived) + [s for s in counted if self._value(s, old_id)]
        last = used[-1] if used and old_id else None
        switch_at, words = self.switch() if self.deployment else (None, "")
        after: tuple[tuple[int, int], ...] = ()
        since_switch = since = None
        if switch_at is not None and old_id:
            after = tuple((s, archived.get(s) or self._value(s, old_id) or 0)
                          for s in used if s > switch_at + SKEW)
        if switch_at is not None and new_id and self.moved():
            # While the deployment still names OLD there is no switch to count NEW from,
            # and until the report has counted the switch's minute there is no figure yet
            # (not a zero).
            since = max([floor_minute(switch_at), *counted[:1]])
            if self.covered_to is not None and self.covered_to >= since + MINUTE:
                since_switch = sum(self._value(s, new_id) or 0 for s in counted if s >= since)
            else:
                since = None
        quiet = None
        if not self.deployment and old_id:
            quiet = last + MINUTE if last is not None else floor_minute(
                self.started_wall - LOOKBACK)
        return Usage(
            state, why, self.unit, now, self.covered_to, self.read_at, minutes, old_id, new_id,
            last, (archived.get(last) or self._value(last, old_id) or 0) if last is not None else 0,
            self.deployment,
            switch_at, words, after, since_switch, since, quiet,
        )
