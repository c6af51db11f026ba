"""A small in-process world that behaves like Anthropic plus a deployment, as an httpx transport.

The demo and the tests go through the real request building and classification code:
only the network is replaced. The world has keys (with the admin API's hints and
statuses), a deployment that switches from the old key to the new one over a
propagation window, and an admin API that deactivates and reactivates keys.
"""

from __future__ import annotations

import asyncio
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
    _ids: int = 0
    _mix: float = 0.0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._t0 = self.clock()
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

    def served_key(self) -> str:
        """The key the deployment uses for this request."""
        t = self.now()
        if self.deployment_breaks_after_revoke and self._revoked_at is not None:
            return self.old
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
            raw = self.served_key()
            status = self.key_state(raw)
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
