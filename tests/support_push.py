"""An engine that writes to destinations and never probes: push tests need no provider.

The keys are the canaries, the audit log is a real file under the test's tmp dir, and
the Cloudflare token (when a Worker destination is used) is in an environment variable.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from providers import provider_by_name
from tests.cloudflare_server import CloudflareServer
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD
from tui.engine.audit import AuditLog
from tui.engine.config import Rotation
from tui.engine.credentials import Secret
from tui.engine.destinations import Destination, WorkerSecret
from tui.engine.rotation import RotationEngine
from tui.engine.session import Keys, open_client

TOKEN_VAR = "KT_TEST_CLOUDFLARE_TOKEN"


def worker_at(server: CloudflareServer) -> WorkerSecret:
    return WorkerSecret(server.account, server.script, "ANTHROPIC_API_KEY",
                        f"env:{TOKEN_VAR}", api=server.api)


def rotation_with(*destinations: Destination) -> Rotation:
    return Rotation(
        name="svc", provider="anthropic", old="prompt", new="prompt", admin="prompt",
        admin_explicit=False, deployment=None, base_url="http://127.0.0.1:9", project_id=None,
        rotate_every=None, interval=1.0, timeout=0.5, streak=2, indeterminate="reset",
        destinations=destinations,
    )


@contextlib.asynccontextmanager
async def push_engine(
    monkeypatch: pytest.MonkeyPatch, state: Path, *destinations: Destination,
    token: str | None = None,
) -> AsyncIterator[RotationEngine]:
    """An engine (not started) for a rotation with these destinations and the canary keys."""
    if token is not None:
        monkeypatch.setenv(TOKEN_VAR, token)
    rotation = rotation_with(*destinations)
    provider = provider_by_name("anthropic", rotation.base_url)
    keys = Keys(Secret(CANARY_OLD, "test"), Secret(CANARY_NEW, "test"),
                Secret(CANARY_ADMIN, "test"))
    async with open_client(provider) as client:
        engine = RotationEngine(rotation, provider, keys, client, audit=AuditLog(state))
        try:
            yield engine
        finally:
            await engine.stop()


async def never(destination: Destination, found: str) -> bool:
    raise AssertionError(f"asked about {destination.label}: {found}")


def writes(state: Path) -> list[dict]:
    """The destination_write events of the audit log."""
    return [e for e in AuditLog(state).events() if e["event"] == "destination_write"]
