"""A simulated Cloudflare Worker for the demo: its secret, deployments and versions.

It answers the three calls keyturn makes (providers/cloudflare.py) in Cloudflare's
envelope, on the SimulatedWorld's clock: writing the secret creates a version holding
it and deploys it at 100 %, and tells the world (`on_secret`), whose deployment then
moves to the key written. Only the network is replaced: keyturn's real request and
parsing code runs against it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Self

from providers.lazy import httpx
from providers.simulated import SimulatedTransport, SimulatedWorld

#: The platform's clock at world time 0 (fixed: the demo's screens are the same every run).
EPOCH = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ACCOUNT_ID = "d3m0" + "0" * 28
SCRIPT = "demo-worker"
SECRET = "ANTHROPIC_API_KEY"
#: Not a credential: the simulated API accepts this token and no other.
TOKEN = "demo-cloudflare-token-accepted-by-the-simulated-api"
PREFIX = "/client/v4/"


@dataclass
class SimVersion:
    id: str
    number: int
    created_on: datetime
    #: The secret's value this version holds.
    secret: str


@dataclass
class SimulatedWorker:
    """One Worker script on the simulated platform."""

    world: SimulatedWorld
    on_secret: Callable[[str], None] = lambda raw: None
    account_id: str = ACCOUNT_ID
    script: str = SCRIPT
    secret_name: str = SECRET
    token: str = TOKEN
    versions: list[SimVersion] = field(default_factory=list)
    #: Newest first, as Cloudflare lists them: (id, created, trigger, [(version, %)]).
    deployments: list[tuple[str, datetime, str, list[tuple[str, float]]]] = field(
        default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)

    @property
    def transport(self) -> PlatformTransport:
        return PlatformTransport(self.world, self)

    def __post_init__(self) -> None:
        first = self._version(self.world.old, EPOCH - timedelta(days=3))
        self.deployments.append(("dep-0001", first.created_on, "upload", [(first.id, 100.0)]))

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.world.now())

    def _version(self, secret: str, created: datetime) -> SimVersion:
        n = len(self.versions) + 1
        h = hashlib.sha256(f"{self.script}/{n}".encode()).hexdigest()
        uuid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        version = SimVersion(uuid, n, created, secret)
        self.versions.append(version)
        return version

    # -- HTTP ------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        base = f"{PREFIX}accounts/{self.account_id}/workers/scripts/{self.script}"
        path = request.url.path
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._answer(403, None, [(10000, "Authentication error")])
        if not path.startswith(base + "/"):
            return self._answer(404, None, [(10007, "This Worker does not exist on your account.")])
        rest = path[len(base) + 1:]
        if rest == "secrets" and request.method == "PUT":
            body = json.loads(request.content or b"{}")
            if body.get("name") != self.secret_name or not body.get("text"):
                return self._answer(400, None, [(10021, "unexpected secret")])
            self.write(body["text"])
            return self._answer(200, {"name": self.secret_name, "type": "secret_text"})
        if rest == "deployments" and request.method == "GET":
            listed = [{"id": dep_id, "created_on": self._time(created), "source": "api",
                       "strategy": "percentage",
                       "versions": [{"version_id": v, "percentage": p} for v, p in shares],
                       "annotations": {"workers/triggered_by": trigger}}
                      for dep_id, created, trigger, shares in self.deployments]
            return self._answer(200, {"deployments": listed})
        if rest.startswith("versions/") and request.method == "GET":
            version = next((v for v in self.versions if v.id == rest[9:]), None)
            if version is None:
                return self._answer(404, None, [(10235, "version not found")])
            return self._answer(200, {"id": version.id, "number": version.number, "metadata": {
                "created_on": self._time(version.created_on), "source": "api"}})
        return self._answer(405, None, [(10405, "method not allowed")])

    def write(self, raw: str) -> None:
        """A secret change: a new version holding it, deployed to 100 % at once."""
        version = self._version(raw, self.now())
        n = len(self.deployments) + 1
        self.deployments.insert(0, (f"dep-{n:04d}", version.created_on, "secret",
                                    [(version.id, 100.0)]))
        self.on_secret(raw)

    @staticmethod
    def _time(when: datetime) -> str:
        return when.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def _answer(self, status: int, result: object,
                errors: list[tuple[int, str]] | None = None) -> httpx.Response:
        from email.utils import format_datetime  # here: not before the demo's first frame

        body = {"success": errors is None, "errors": [{"code": c, "message": m}
                                                      for c, m in errors or ()],
                "messages": [], "result": result}
        headers = {"cf-ray": f"{len(self.calls):016x}-SIM",
                   "date": format_datetime(self.now(), usegmt=True)}
        return httpx.Response(status, headers=headers, json=body)


class PlatformTransport:
    """The world's transport, with Cloudflare's API paths answered by a SimulatedWorker."""

    def __init__(self, world: SimulatedWorld, worker: SimulatedWorker) -> None:
        self.inner = SimulatedTransport(world)
        self.worker = worker

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(PREFIX):
            await request.aread()
            return self.worker.handle(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Nothing to close: no sockets."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
