"""A small in-process world that behaves like Anthropic plus a deployment, as an httpx transport.

The demo and the tests go through the real request building and classification code:
only the network is replaced. The world has keys (with the admin API's hints and
statuses), a deployment that switches from the old key to the new one — over a
propagation window, or as a staged rollout where each request lands on NEW with the
current share — and an admin API that deactivates and reactivates keys.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Self

from providers.anthropic import ADMIN_KEYS, AnthropicProvider
from providers.keys import fingerprint
from providers.lazy import httpx
from providers.simulated_usage import SimulatedUsage
from providers.usage import ANTHROPIC_USAGE, ReportClock

HOST = "https://simulated.keyturn.invalid"
DEPLOYMENT_URL = HOST + "/health/probe"


def make_key(kind: str = "api03") -> str:
    """A fresh random key in Anthropic's shape (never a real credential)."""
    return f"sk-ant-{kind}-" + secrets.token_urlsafe(66)[:86] + "AA"


def hint_for(raw: str) -> str:
    return raw[:16] + "..." + raw[-4:]


@dataclass(frozen=True)
class Rollout:
    """The share of the deployment's requests served with the NEW key, over world time.

    `stages` are (time, share) points: each share holds until the next point, or with
    `ramp` the share moves linearly between points. Before the first point every request
    is on OLD; after the last, its share holds for good (a share below 1 is a tail that
    lingers).
    """

    stages: tuple[tuple[float, float], ...]
    ramp: bool = False

    def __post_init__(self) -> None:
        times = [t for t, _ in self.stages]
        if not self.stages or times != sorted(times):
            raise ValueError("stages must be (time, share) points in time order")
        if any(not 0.0 <= share <= 1.0 for _, share in self.stages):
            raise ValueError("a share is between 0 and 1")
        object.__setattr__(self, "_times", times)

    @classmethod
    def staged(cls, start: float, *steps: tuple[float, float]) -> Rollout:
        """From `start`, each (share, seconds) holds for its seconds, in order."""
        stages, t = [], start
        for share, seconds in steps:
            stages.append((t, share))
            t += seconds
        return cls(tuple(stages))

    @classmethod
    def linear(cls, start: float, seconds: float) -> Rollout:
        """From all OLD at `start` to all NEW `seconds` later, in a straight line."""
        return cls(((start, 0.0), (start + seconds, 1.0)), ramp=True)

    def share_at(self, t: float) -> float:
        i = bisect.bisect_right(self._times, t) - 1  # type: ignore[attr-defined]
        if i < 0:
            return 0.0
        t0, s0 = self.stages[i]
        if self.ramp and i + 1 < len(self.stages):
            t1, s1 = self.stages[i + 1]
            return s0 + (s1 - s0) * (t - t0) / (t1 - t0)
        return s0

    @property
    def begins_at(self) -> float:
        return self.stages[0][0]

    @property
    def full_at(self) -> float | None:
        """World time from which every request is on NEW (None: never)."""
        for t, share in self.stages:
            if share >= 1.0:
                return t
        return None

    def describe(self) -> str:
        """`0 → 50 % → 90 % → 100 % NEW` (a ramp: `0 → 100 % NEW over 12 s`)."""
        if self.ramp:
            return (" → ".join(f"{share:.0%}" for _, share in self.stages).replace("%", " %")
                    + f" NEW over {self.stages[-1][0] - self.stages[0][0]:g} s")
        shares = ["0"] + [f"{share * 100:g} %" for _, share in self.stages]
        return " → ".join(shares) + " NEW"


@dataclass
class SimKey:
    raw: str
    id: str
    status: str = "active"
    #: World time before which the key is not yet accepted (provider-side propagation).
    live_from: float = 0.0
    #: World time the key was deactivated; the refusal spreads over `revoke_delay`.
    deactivated_at: float | None = None


@dataclass
class AdminCall:
    method: str
    path: str
    status: str | None
    request_id: str


@dataclass
class SimulatedWorld:
    """Keys, a deployment and an admin API, on a clock the caller controls."""

    clock: Callable[[], float] = time.monotonic
    seed: int = 7
    #: When (world time) the deployment starts serving the new key, and how long the mix lasts.
    switch_at: float = 2.0
    window: float = 6.0
    #: A staged rollout instead of the window: each deployment request lands on NEW with
    #: the share at that moment (seeded). switch_at and window then describe it.
    rollout: Rollout | None = None
    #: The deployment's own rate limit: requests per second of world time beyond which it
    #: answers 429 with `deployment_retry_after` (None: no limit).
    deployment_limit: int | None = None
    deployment_retry_after: str = "5"
    #: Seconds each deployment instance (one per key it serves) keeps its upstream check,
    #: like the README's Worker (0: every deployment request checks upstream).
    upstream_cache: float = 0.0
    #: Deployment requests answered, and the provider calls they made.
    deployment_requests: int = 0
    upstream_calls: int = 0
    #: Seconds after deactivation before the old key is refused everywhere.
    revoke_delay: float = 1.0
    latency: tuple[float, float] = (0.0, 0.0)
    #: When set, the deployment breaks (401 from the provider) after the old key is revoked.
    deployment_breaks_after_revoke: bool = False
    admin_key: str = field(default_factory=lambda: make_key("admin01"))
    keys: dict[str, SimKey] = field(default_factory=dict)
    admin_calls: list[AdminCall] = field(default_factory=list)
    requests: int = 0
    #: Forced answers for the next probes of a key fingerprint: list of HTTP statuses.
    forced: dict[str, list[int]] = field(default_factory=dict)
    #: The retry-after header of a 429 answer, in seconds.
    retry_after: str = "1"
    old: str = ""
    new: str = ""
    #: World time from which the provider accepts the new key (its own propagation).
    new_live_from: float = 0.5
    #: The provider's usage report: the deployment's traffic per key and minute, served late.
    usage: SimulatedUsage = field(default_factory=SimulatedUsage)
    _t0: float = 0.0
    _revoked_at: float | None = None
    _rng: random.Random = field(init=False)
    _route: random.Random = field(init=False)
    _ids: int = 0
    _mix: float = 0.0
    _limit_window: tuple[int, int] = (-1, 0)
    _upstream: dict[str, tuple[float, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        # Its own stream: where requests land does not depend on how many latencies were drawn.
        self._route = random.Random(f"route-{self.seed}")
        self._t0 = self.clock()
        if self.rollout is not None:
            full = self.rollout.full_at
            self.switch_at = self.rollout.begins_at
            last = full if full is not None else self.rollout.stages[-1][0]
            self.window = last - self.switch_at
        # Keys given by the caller are registered like the ones the world makes itself.
        self.old = self.add_key(self.old or None).raw
        self.new = self.add_key(self.new or None, live_from=self.new_live_from).raw

    # -- world state --------------------------------------------------------------
    def now(self) -> float:
        return self.clock() - self._t0

    def add_key(self, raw: str | None = None, live_from: float = 0.0) -> SimKey:
        self._ids += 1
        key = SimKey(raw or make_key(), f"apikey_sim{self._ids:04d}", live_from=live_from)
        self.keys[key.raw] = key
        return key

    def key_state(self, raw: str) -> int:
        """The status code the provider gives this key now."""
        key = self.keys.get(raw)
        if key is None:
            return 401
        forced = self.forced.get(fingerprint(raw))
        if forced:
            return forced.pop(0)
        if key.status != "active":
            if key.deactivated_at is not None and self.now() < key.deactivated_at + self.revoke_delay:
                return 200  # the provider has not propagated the revocation yet
            return 404  # Anthropic answers a disabled key with 404
        if self.now() < key.live_from:
            return 401
        return 200

    def new_share(self, t: float | None = None) -> float:
        """The share of deployment requests on NEW at world time `t` (default: now)."""
        t = self.now() if t is None else t
        if self.rollout is not None:
            return self.rollout.share_at(t)
        if t < self.switch_at:
            return 0.0
        if t >= self.switch_at + self.window or self.window <= 0:
            return 1.0
        return min(0.75, (t - self.switch_at) / self.window)

    def served_key(self) -> str:
        """The key the deployment uses for this request."""
        t = self.now()
        if self.deployment_breaks_after_revoke and self._revoked_at is not None:
            return self.old
        if self.rollout is not None:
            return self.new if self._route.random() < self.rollout.share_at(t) else self.old
        if t < self.switch_at:
            return self.old
        if t >= self.switch_at + self.window or self.window <= 0:
            return self.new
        # Error diffusion: the share of NEW grows over the window, deterministically, and
        # stays <= 3/4 so NEW never answers more than 3 times in a row inside the window.
        share_new = min(0.75, (t - self.switch_at) / self.window)
        self._mix += share_new
        if self._mix >= 1.0:
            self._mix -= 1.0
            return self.new
        return self.old

    def _over_limit(self) -> bool:
        if self.deployment_limit is None:
            return False
        second = int(self.now())
        window, count = self._limit_window
        count = count + 1 if window == second else 1
        self._limit_window = (second, count)
        return count > self.deployment_limit

    def upstream_status(self, raw: str) -> int:
        """What the deployment's instance serving `raw` learns from the provider: a fresh
        check, or its cached one (`upstream_cache` seconds)."""
        if self.upstream_cache > 0:
            cached = self._upstream.get(raw)
            if cached is not None and self.now() - cached[0] < self.upstream_cache:
                return cached[1]
        self.upstream_calls += 1
        status = self.key_state(raw)
        if self.upstream_cache > 0:
            self._upstream[raw] = (self.now(), status)
        return status

    def served_keys(self, count: int) -> list[str]:
        """The keys `count` deployment requests sent together at this instant land on
        (what `served_key` would say for each, drawing from the same seeded stream)."""
        broken = self.deployment_breaks_after_revoke and self._revoked_at is not None
        if self.rollout is None or broken:
            return [self.served_key() for _ in range(count)]
        share = self.rollout.share_at(self.now())
        draw, new, old = self._route.random, self.new, self.old
        return [new if draw() < share else old for _ in range(count)]

    def set_status(self, key_id: str, status: str) -> SimKey | None:
        for key in self.keys.values():
            if key.id == key_id:
                key.status = status
                key.deactivated_at = self.now() if status != "active" else None
                if key.raw == self.old:
                    self._revoked_at = self.now() if status != "active" else None
                return key
        return None

    # -- HTTP ---------------------------------------------------------------------
    def _request_id(self) -> str:
        self.requests += 1
        return f"req_sim{self.requests:06d}"

    def handle(self, request: httpx.Request) -> httpx.Response:
        rid = self._request_id()
        path = request.url.path
        headers = {"request-id": rid, "content-type": "application/json"}
        if path == "/v1/models" and request.method == "GET":
            status = self.key_state(request.headers.get("x-api-key", ""))
            return self._answer(status, headers, {"data": [{"id": "claude-sim", "type": "model"}]})
        if path == "/health/probe":
            self.deployment_requests += 1
            if self._over_limit():
                headers["retry-after"] = self.deployment_retry_after
                return httpx.Response(429, headers=headers, text="rate limited")
            raw = self.served_key()
            status = self.upstream_status(raw)
            ok = 200 <= status < 300
            if ok and raw in self.keys:
                self.usage.count(self.keys[raw].id, self.now())
            body = {"ok": ok, "status": status, "fingerprint": fingerprint(raw)}
            return httpx.Response(200 if ok else 503, headers=headers, json=body)
        if path.startswith(ADMIN_KEYS):
            if request.headers.get("x-api-key") != self.admin_key:
                return self._answer(401, headers, {})
            return self._admin(request, path, headers, rid)
        if path == ANTHROPIC_USAGE and request.method == "GET":
            if request.headers.get("x-api-key") != self.admin_key:
                return self._answer(401, headers, {})
            status, body = self.usage.answer(list(request.url.params.multi_items()), self.now(),
                                             self.keys[self.old].id)
            if status == 429:
                headers = dict(headers, **{"retry-after": self.retry_after})
            return httpx.Response(status, headers=headers, content=body)
        return self._answer(404, headers, {}, message="not found")

    def _admin(self, request: httpx.Request, path: str, headers: dict[str, str], rid: str) -> httpx.Response:
        if request.method == "GET" and path == ADMIN_KEYS:
            wanted = request.url.params.get("status")
            data = [
                {"id": k.id, "type": "api_key", "status": k.status, "partial_key_hint": hint_for(k.raw),
                 "name": k.id}
                for k in self.keys.values()
                if wanted is None or k.status == wanted
            ]
            self.admin_calls.append(AdminCall("GET", path, None, rid))
            return httpx.Response(200, headers=headers, json={
                "data": data, "has_more": False,
                "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None,
            })
        if request.method == "POST":
            key_id = path.rsplit("/", 1)[-1]
            status = json.loads(request.content or b"{}").get("status")
            if status not in ("active", "inactive", "archived"):
                return self._answer(400, headers, {}, message="invalid status")
            key = self.set_status(key_id, status)
            if key is None:
                return self._answer(404, headers, {}, message="api key not found")
            self.admin_calls.append(AdminCall("POST", path, status, rid))
            return httpx.Response(200, headers=headers, json={
                "id": key.id, "type": "api_key", "status": key.status, "partial_key_hint": hint_for(key.raw),
            })
        return self._answer(405, headers, {}, message="method not allowed")

    def _answer(self, status: int, headers: dict[str, str], ok_body: dict, message: str = "") -> httpx.Response:
        if 200 <= status < 300:
            return httpx.Response(status, headers=headers, json=ok_body)
        kind = {401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error",
                529: "overloaded_error"}.get(status, "api_error" if status >= 500 else "invalid_request_error")
        text = message or {401: "invalid x-api-key", 404: "api key disabled"}.get(status, kind)
        if status == 429:
            headers = dict(headers, **{"retry-after": self.retry_after})
        return httpx.Response(status, headers=headers, json={"type": "error", "error": {"type": kind, "message": text}})

    def revoke_calls(self) -> list[AdminCall]:
        """The admin calls that changed a key's status."""
        return [c for c in self.admin_calls if c.method == "POST"]

    @property
    def report_clock(self) -> ReportClock:
        """The usage report's UTC clock, running with the world's."""
        return self.usage.clock(self.now)

    @property
    def transport(self) -> SimulatedTransport:
        return SimulatedTransport(self)


class SimulatedTransport:
    """Answers requests from the world, with optional latency, never touching the network.

    An httpx transport by its one method rather than by subclassing
    `httpx.AsyncBaseTransport`: a subclass would import httpx when the demo is built,
    before the dashboard's first frame (httpx calls only `handle_async_request`/`aclose`)."""

    def __init__(self, world: SimulatedWorld) -> None:
        self.world = world

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        low, high = self.world.latency
        if high > 0:
            await asyncio.sleep(self.world._rng.uniform(low, high))
        await request.aread()
        return self.world.handle(request)

    async def aclose(self) -> None:
        """Nothing to close: no sockets."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@dataclass
class SimulatedProvider(AnthropicProvider):
    """Anthropic's rules, answered by a SimulatedWorld."""

    base_url: str = HOST
    name: str = "simulated"
    console: ClassVar[str] = "the provider's console"
    #: The world's usage report clock (keyturn reads the report on it, not on time.time).
    report_clock: ReportClock | None = None
