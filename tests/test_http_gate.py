"""The gate through the real HTTP path: engine, shared client, loopback provider + deployment.

These tests are about the wire, the deployment contract and the gate together, not about
time: every probe goes over real HTTP, while the 50 ms cadence runs on an HttpFakeClock
(each tick's probes answered before the next tick), so no test waits for idle ticks.
"""

from __future__ import annotations

import itertools

import pytest

from providers.results import Verdict
from tests.provider_server import ProviderServer, Reply, fingerprint
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD
from tests.support_server import HttpFakeClock, engine_on
from tui.engine.gate import Role
from tui.engine.rotation import GateChanged, GateLocked, Phase, Probed

pytest_plugins = ["tests.server_fixtures"]

# A fast cadence, but a timeout no loaded CI machine misses on loopback: these tests are
# about the gate, and a stray timeout (an indeterminate answer) would reset its streak.
# The engine does not need timeout < interval; only a user's config is held to that.
FAST = {"interval": 0.05, "timeout": 1.0, "streak": 3}


def world(server: ProviderServer, serving: str | None) -> None:
    server.add_key(CANARY_OLD)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    server.serving = serving


async def test_deployment_still_serving_old_keeps_the_gate_shut(server: ProviderServer) -> None:
    world(server, serving=CANARY_OLD)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, clock=HttpFakeClock(),
                         admin=CANARY_ADMIN, **FAST) as run:
        engine = run.engine
        # The new key is live for many streaks over ...
        assert await run.until(lambda: len(run.probed(Role.NEW)) >= 12, 5.0)
        assert engine.tracks[Role.NEW].complete
        # ... but the deployment answers healthy on the OLD key: shut, and it says why.
        assert not engine.gate.open
        assert "deployment still serving OLD" in engine.gate.reasons
        assert engine.phase is Phase.PROPAGATING
        assert not engine.can_revoke
        with pytest.raises(GateLocked):
            await engine.revoke()
        assert server.admin_writes() == []  # the usage report is read; nothing is changed
        deployed = run.probed(Role.DEPLOYMENT)
        assert all(p.result.verdict is Verdict.LIVE for p in deployed)
        assert {p.result.served_fingerprint for p in deployed} == {fingerprint(CANARY_OLD)}
        # The deployment switches to the NEW key: the gate opens after a streak of it.
        server.serving = CANARY_NEW
        assert await run.until(lambda: engine.gate.open, 3.0)
        on_new = [p for p in run.probed(Role.DEPLOYMENT)
                  if p.result.served_fingerprint == fingerprint(CANARY_NEW)]
        assert len(on_new) >= 3
        assert engine.can_revoke


async def test_a_mixed_deployment_never_opens_the_gate(server: ProviderServer) -> None:
    """Half the deployment's instances still hold the OLD key: never safe to revoke."""
    world(server, serving=None)
    turns = itertools.cycle([CANARY_NEW, CANARY_NEW, CANARY_OLD])

    def mixed(request) -> Reply:
        server.serving = next(turns)
        return server._deployment()

    server.always("deployment", mixed)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, clock=HttpFakeClock(),
                         admin=CANARY_ADMIN, **FAST) as run:
        assert await run.until(lambda: len(run.probed(Role.DEPLOYMENT)) >= 15, 5.0)
        assert not any(isinstance(e, GateChanged) and e.gate.open for e in run.events)
        assert server.admin_writes() == []


async def test_a_deployment_reporting_no_fingerprint_keeps_it_shut(server: ProviderServer) -> None:
    world(server, serving=CANARY_NEW)
    server.deployment_reports_fingerprint = False
    async with engine_on(server, CANARY_OLD, CANARY_NEW, clock=HttpFakeClock(),
                         **FAST) as run:
        assert await run.until(lambda: len(run.probed(Role.DEPLOYMENT)) >= 8, 5.0)
        assert not run.engine.gate.open
        assert "deployment does not report which key it serves" in run.engine.gate.reasons


@pytest.mark.parametrize("target", [Role.NEW, Role.DEPLOYMENT])
async def test_one_failure_relocks_the_gate_until_the_streak_is_rebuilt(
    server: ProviderServer, target: Role
) -> None:
    world(server, serving=CANARY_NEW)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, clock=HttpFakeClock(),
                         admin=CANARY_ADMIN, **FAST) as run:
        engine = run.engine
        assert await run.until(lambda: engine.gate.open, 5.0)
        opened_at = len(run.events)
        if target is Role.NEW:
            # One 500 for the new key (the old key's probes are untouched).
            fired = []

            def once(request):
                sent = request.headers.get("x-api-key", "") + request.headers.get("authorization", "")
                if CANARY_NEW in sent and not fired:
                    fired.append(True)
                    return 500
                return None

            server.always("models", once)
        else:
            server.script("deployment", 502)
        assert await run.until(lambda: not engine.gate.open, 2.0)
        assert not engine.can_revoke
        assert await run.until(lambda: engine.gate.open, 3.0)
        after = run.events[opened_at:]
    # The closing came from exactly that one failing probe ...
    closed = next(i for i, e in enumerate(after) if isinstance(e, GateChanged) and not e.gate.open)
    failing = [e for e in after[:closed] if isinstance(e, Probed) and e.role is target
               and e.result.verdict is not Verdict.LIVE]
    assert len(failing) == 1
    assert failing[0].result.verdict is Verdict.UNAVAILABLE
    # ... and it reopened only after `streak` healthy answers of that target.
    reopened = next(i for i, e in enumerate(after) if isinstance(e, GateChanged) and e.gate.open)
    healthy = [e for e in after[closed:reopened] if isinstance(e, Probed) and e.role is target]
    assert len(healthy) >= 3
    assert server.admin_writes() == []


async def test_no_revoke_while_the_deployment_served_old_within_the_streak(
    server: ProviderServer,
) -> None:
    world(server, serving=CANARY_NEW)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, clock=HttpFakeClock(),
                         admin=CANARY_ADMIN, **FAST) as run:
        engine = run.engine
        assert await run.until(lambda: engine.gate.open, 5.0)
        # One instance answers on the OLD key once.
        on_old = f'{{"ok": true, "status": 200, "fingerprint": "{fingerprint(CANARY_OLD)}"}}'
        server.script("deployment", lambda req: Reply(200, {}, on_old.encode()))
        assert await run.until(lambda: not engine.gate.open, 2.0)
        assert "deployment still serving OLD" in engine.gate.reasons
        with pytest.raises(GateLocked):
            engine.check_revoke()
        assert await run.until(lambda: engine.gate.open, 3.0)
        track = engine.tracks[Role.DEPLOYMENT]
        assert fingerprint(CANARY_OLD) not in track.served
        receipt = await engine.revoke()
    assert receipt is not None
    assert len(server.admin_writes()) == 1


async def test_revoke_through_the_gate_deactivates_once_and_is_confirmed(server: ProviderServer) -> None:
    world(server, serving=CANARY_NEW)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, clock=HttpFakeClock(),
                         admin=CANARY_ADMIN, **FAST) as run:
        engine = run.engine
        assert await run.until(lambda: engine.can_revoke, 5.0)
        first_admin = len(server.hits())
        receipt = await engine.revoke()
        assert receipt is not None and receipt.request_id is not None
        assert await run.until(lambda: engine.phase is Phase.DONE, 5.0)
    writes = server.admin_writes()
    assert len(writes) == 1
    assert server.key_by_raw(CANARY_OLD).status in ("inactive", "deleted")
    assert server.key_by_raw(CANARY_NEW).status == "active"
    # Every admin change came after the gate opened (before it, the usage report was read).
    assert all(not r.is_admin_write for r in server.hits()[:first_admin])
