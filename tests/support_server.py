"""A RotationEngine wired to the loopback provider server: real HTTP, real clock, short times.

Used by the gate, back-off and fault tests; the CLI tests run the real `keyturn` command
instead (tests/support_cli.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from providers import provider_by_name
from tests.provider_server import ProviderServer
from tui.engine.audit import AuditLog
from tui.engine.config import Rotation
from tui.engine.credentials import Secret
from tui.engine.gate import Role
from tui.engine.rotation import Keys, Probed, RotationEngine, open_client


def rotation_for(server: ProviderServer, *, deployment: bool = True, **overrides: object) -> Rotation:
    """A rotation whose base_url and deployment are the loopback server."""
    fields: dict[str, object] = dict(
        name="loopback", provider=server.flavour, old="prompt", new="prompt", admin="prompt",
        admin_explicit=False, deployment=server.deployment_url if deployment else None,
        base_url=server.base_url, project_id=server.project_id, rotate_every=None,
        interval=0.1, timeout=1.0, streak=3, indeterminate="reset",
        # One deployment answer a tick, the bound off: these tests are about streaks, faults
        # and revoke; the bound has its own tests (test_rollout.py).
        samples=1, max_old_share=1.0,
    )
    fields.update(overrides)
    return Rotation(**fields)


@dataclass
class Run:
    engine: RotationEngine
    events: list[object] = field(default_factory=list)

    def probed(self, role: Role) -> list[Probed]:
        return [e for e in self.events if isinstance(e, Probed) and e.role is role]

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait (real time, polled on engine events) until `predicate()` holds."""
        return await self.engine.wait_until(predicate, timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def engine_on(
    server: ProviderServer, old: str, new: str | None, admin: str | None = None,
    audit: AuditLog | None = None, **rotation_overrides: object,
) -> AsyncIterator[Run]:
    """A started engine probing the loopback server (writing to `audit`, when given);
    stopped and closed afterwards."""
    rotation = rotation_for(server, **rotation_overrides)
    provider = provider_by_name(
        server.flavour, server.base_url,
        **({"project_id": server.project_id} if server.flavour == "openai" else {}),
    )
    keys = Keys(Secret(old), Secret(new) if new else None, Secret(admin) if admin else None)
    async with open_client(provider) as client:
        engine = RotationEngine(rotation, provider, keys, client, audit=audit)
        run = Run(engine)
        engine.listeners.append(run.events.append)
        engine.start()
        try:
            yield run
        finally:
            await engine.stop()


# For tests about throttling and back-off, not timeouts: loopback answers in well under a
# second even on a loaded CI machine, so no answer turns into a stray "unreachable".
SURE = 1.0


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def now() -> float:
    return time.monotonic()


@contextlib.contextmanager
def canary_server(monkeypatch, prefix: str):
    """The loopback Anthropic server knowing the canary keys, serving OLD from its
    deployment; `PREFIX_OLD/_NEW/_ADMIN` hold the keys for a config's env: references."""
    from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD

    monkeypatch.setenv(f"{prefix}_OLD", CANARY_OLD)
    monkeypatch.setenv(f"{prefix}_NEW", CANARY_NEW)
    monkeypatch.setenv(f"{prefix}_ADMIN", CANARY_ADMIN)
    with ProviderServer() as server:
        server.add_key(CANARY_OLD)
        server.add_key(CANARY_NEW)
        server.admin_key = CANARY_ADMIN
        server.serving = CANARY_OLD
        yield server
