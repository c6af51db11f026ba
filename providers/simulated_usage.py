"""The simulated world's usage report: what each key spent per minute, served late.

The world's deployment answers are a sample of its app's traffic: each one is counted,
as tokens on the key it served (when that key authenticates), in the report minute of its
moment. Report time runs `speed` times the world's (the demo shows a report minute each
second), the report trails it by `lag`, and the half hour before the world began holds the
OLD key's steady traffic. A stray user of a key (`stray`: a cron job, a laptop) adds its
own count every minute. keyturn's own probes (GET /v1/models) are not counted, as on
Anthropic, whose report counts Messages API tokens only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from providers.usage import MINUTE, ReportClock, rfc3339

#: 2026-01-05T12:00:00Z: a fixed start, so every run draws the same minutes.
EPOCH = 1767614400
#: Buckets per page at most (the real report allows 1440; small pages show paging).
PAGE = 60


@dataclass
class SimulatedUsage:
    """Tokens per (report minute, key id); answers `GET …/usage_report/messages`."""

    epoch: float = EPOCH
    speed: float = 60.0
    lag: float = 3 * MINUTE
    tokens_per_answer: int = 2400
    #: The OLD key's traffic before the world began: minutes, tokens a minute.
    history: tuple[int, int] = (30, 5200)
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    #: Someone besides the deployment: (key id, from, until (report times), tokens a minute).
    strays: list[tuple[str, float, float, int]] = field(default_factory=list)
    #: Statuses to answer the next report reads with (429, 500, …) instead of the report.
    forced: list[int] = field(default_factory=list)
    reads: int = 0
    #: Report seconds the counts are kept (older minutes read as none).
    retain: float = 3600
    _answers: int = 0
    _minute: int = 0

    def report_time(self, world_now: float) -> float:
        return self.epoch + world_now * self.speed

    def clock(self, world_clock: Callable[[], float]) -> ReportClock:
        """The report's clock for keyturn, given the world's own."""
        return ReportClock(lambda: self.report_time(world_clock()), self.speed)

    def count(self, key_id: str, world_now: float) -> None:
        """One deployment answer on `key_id`: its slice of the app's traffic."""
        self._answers += 1
        minute = int(self.report_time(world_now) // MINUTE * MINUTE)
        tokens = self.tokens_per_answer + (self._answers * 7919) % 900
        if minute != self._minute:  # a new minute: the oldest beyond `retain` are dropped
            self._minute, gone = minute, minute - self.retain
            for key in [key for key in self.counts if key[0] < gone]:
                del self.counts[key]
        self.counts[(minute, key_id)] = self.counts.get((minute, key_id), 0) + tokens

    def stray(self, key_id: str, world_from: float, tokens_per_minute: int = 41_000,
              world_until: float = float("inf")) -> None:
        """Something besides the deployment uses `key_id` from world time `world_from` (until
        `world_until`)."""
        self.strays.append((key_id, self.report_time(world_from), self.report_time(world_until),
                            tokens_per_minute))

    def tokens(self, minute: int, key_id: str, old_id: str) -> int:
        n = self.counts.get((minute, key_id), 0)
        minutes, per_minute = self.history
        if key_id == old_id and self.epoch - minutes * MINUTE <= minute < self.epoch:
            n += per_minute + (minute // MINUTE * 7919) % 1600
        for stray_id, since, until, per in self.strays:
            if stray_id == key_id and since // MINUTE * MINUTE <= minute < until:
                n += per
        return n

    def answer(self, query: list[tuple[str, str]], world_now: float, old_id: str) -> tuple[int, bytes]:
        """(status, JSON body) for one read of the report."""
        self.reads += 1
        if self.forced:
            status = self.forced.pop(0)
            return status, json.dumps({"type": "error", "error": {
                "type": "rate_limit_error" if status == 429 else "api_error",
                "message": "simulated"}}).encode()
        params = dict(query)
        ids = [v for k, v in query if k in ("api_key_ids[]", "api_key_ids")]
        if params.get("bucket_width") != "1m" or "starting_at" not in params:
            return 400, json.dumps({"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "starting_at and bucket_width=1m are required here"}}).encode()
        start = datetime.fromisoformat(params["starting_at"]).astimezone(UTC).timestamp()
        first = int(start // MINUTE * MINUTE)
        reached = int((self.report_time(world_now) - self.lag) // MINUTE * MINUTE)
        offset = int(params.get("page", "page_0").removeprefix("page_") or 0)
        limit = min(int(params.get("limit") or PAGE), PAGE)
        minutes = list(range(first, reached, MINUTE))
        shown = minutes[offset:offset + limit]
        data = []
        for minute in shown:
            results = []
            for key_id in ids:
                n = self.tokens(minute, key_id, old_id)
                if n:
                    uncached, cached = n // 2, n // 5
                    results.append({
                        "api_key_id": key_id, "workspace_id": None, "model": None,
                        "service_tier": None, "context_window": None,
                        "uncached_input_tokens": uncached, "cache_read_input_tokens": cached,
                        "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                           "ephemeral_1h_input_tokens": 0},
                        "output_tokens": n - uncached - cached,
                        "server_tool_use": {"web_search_requests": 0},
                    })
            data.append({"starting_at": rfc3339(minute), "ending_at": rfc3339(minute + MINUTE),
                         "results": results})
        more = offset + limit < len(minutes)
        return 200, json.dumps({"data": data, "has_more": more,
                                "next_page": f"page_{offset + limit}" if more else None}).encode()
