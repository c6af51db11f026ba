"""The rotation engine over the simulated world: phases, revoke, verify, rollback."""

from __future__ import annotations

import pytest

from providers.errors import AdminError
from tests.support_engine import make_rig
from tui.engine.gate import Role
from tui.engine.rotation import GateLocked, Phase, PhaseChanged, RevokeRefused


@pytest.fixture
async def rig():
    r = make_rig()
    yield r
    await r.close()


def phases(rig) -> list[str]:
    return [e.phase.value for e in rig.events if isinstance(e, PhaseChanged)]


async def test_gate_stays_shut_through_the_propagation_window_then_opens_on_the_nth_live(rig):
    rig.engine.start()
    # The window runs from t=2 to t=8; inside it NEW never answers 3 times in a row.
    opened_at = None
    for _ in range(14):
        await rig.run(1.0)
        if rig.engine.gate.open and opened_at is None:
            opened_at = rig.clock.now()
    assert opened_at is not None and opened_at >= 8.0
    assert phases(rig) == ["propagating", "ready"]
    assert rig.engine.phase is Phase.READY


async def test_revoke_before_the_gate_opens_is_refused_and_calls_nothing(rig):
    rig.engine.start()
    await rig.run(3.0)
    with pytest.raises(GateLocked, match="deployment"):
        await rig.engine.revoke()
    assert rig.world.revoke_calls() == []


async def test_full_rotation_admin_called_once_then_verifying_then_done(rig):
    rig.engine.start()
    assert await rig.run_until(lambda: rig.engine.can_revoke)
    receipt = await rig.engine.revoke()
    assert receipt is not None and receipt.request_id
    assert rig.engine.phase is Phase.VERIFYING
    with pytest.raises(RevokeRefused):
        await rig.engine.revoke()  # never twice for one key
    assert await rig.run_until(lambda: rig.engine.phase is Phase.DONE)
    calls = rig.world.revoke_calls()
    assert [(c.status, c.path.rsplit("/", 1)[-1]) for c in calls] == [("inactive", "apikey_sim0001")]
    assert rig.engine.tracks[Role.OLD].streak >= 3


async def test_one_failure_before_confirming_relocks_the_gate(rig):
    rig.engine.start()
    assert await rig.run_until(lambda: rig.engine.can_revoke)
    rig.world.forced[rig.engine.keys.new.fingerprint] = [503]
    await rig.run(1.0)
    assert not rig.engine.gate.open
    assert "new key 0/3 live" in rig.engine.gate.reasons
    with pytest.raises(GateLocked):
        await rig.engine.revoke()
    assert rig.world.revoke_calls() == []


async def test_console_path_waits_for_the_user_then_verifies():
    rig = make_rig(admin=False)
    try:
        rig.engine.start()
        assert await rig.run_until(lambda: rig.engine.can_revoke)
        assert await rig.engine.revoke() is None
        assert rig.engine.phase is Phase.REVOKING and rig.engine.awaiting_console
        steps = rig.engine.console_steps()
        assert rig.engine.keys.old.masked in steps and rig.engine.keys.old.fingerprint in steps
        # The user revokes in the console (the world's admin API stands in for them).
        rig.world.set_status("apikey_sim0001", "inactive")
        rig.engine.confirm_console()
        assert await rig.run_until(lambda: rig.engine.phase is Phase.DONE)
    finally:
        await rig.close()


async def test_deployment_failing_after_revoke_raises_the_alarm_and_rollback_reactivates():
    rig = make_rig(breaks_after_revoke=True)
    try:
        rig.engine.start()
        assert await rig.run_until(lambda: rig.engine.can_revoke)
        await rig.engine.revoke()
        assert await rig.run_until(lambda: rig.engine.phase is Phase.FAILED, limit=10)
        assert rig.engine.alarm and "deployment" in rig.engine.alarm
        assert rig.engine.can_reactivate
        await rig.engine.reactivate()
        assert rig.engine.phase is Phase.ROLLED_BACK
        assert [c.status for c in rig.world.revoke_calls()] == ["inactive", "active"]
    finally:
        await rig.close()


async def test_admin_refusal_leaves_the_key_unrevoked_and_the_gate_in_charge(rig, monkeypatch):
    rig.engine.start()
    assert await rig.run_until(lambda: rig.engine.can_revoke)
    rig.world.admin_key = "sk-ant-admin01-some-other-admin-key-000000"  # our admin key now refused
    with pytest.raises(AdminError, match="401"):
        await rig.engine.revoke()
    assert rig.world.revoke_calls() == []
    assert rig.engine.phase in (Phase.READY, Phase.PROPAGATING)
    assert rig.engine.keys.old.fingerprint not in rig.engine.revoked


async def test_replacing_the_new_key_restarts_its_streak(rig):
    from tui.engine.credentials import Secret

    rig.engine.start()
    assert await rig.run_until(lambda: rig.engine.can_revoke)
    other = rig.world.add_key().raw
    rig.engine.set_new_key(Secret(other))
    assert not rig.engine.gate.open and rig.engine.tracks[Role.NEW].streak == 0
    assert rig.engine.phase is Phase.WAITING


async def test_an_old_key_revoked_elsewhere_locks_an_open_gate(rig):
    """Someone revoked the old key behind keyturn's back (another tool, the console):
    Revoke locks at once and says why; nothing is sent."""
    rig.engine.start()
    assert await rig.run_until(lambda: rig.engine.can_revoke)
    old_id = rig.world.keys[rig.world.old].id
    rig.world.set_status(old_id, "inactive")
    assert await rig.run_until(lambda: not rig.engine.gate.open, limit=5)
    assert "already refused by the provider" in rig.engine.gate.summary
    with pytest.raises(GateLocked, match="already refused"):
        await rig.engine.revoke()
    assert rig.world.revoke_calls() == []


async def test_pausing_locks_revoke_until_fresh_answers(rig):
    rig.engine.start()
    assert await rig.run_until(lambda: rig.engine.can_revoke)
    rig.engine.pause()
    assert not rig.engine.can_revoke
    with pytest.raises(GateLocked, match="paused"):
        await rig.engine.revoke()
    rig.engine.resume()
    assert rig.engine.can_revoke
def sleepers_besides_probes(rig) -> list[object]:
    """The engine's other timers: the usage report's reader (it has an admin key)."""
    task = rig.engine.usage_watch.task
    return [task] if task is not None and not task.done() else []


async def test_wait_until_times_out_on_the_engine_clock_not_in_real_time(rig):
    """A FakeClock engine: the timeout passes when the clock is moved, not in real time."""
    import asyncio
    import time

    rig.engine.start()
    started = time.monotonic()
    waiting = asyncio.ensure_future(rig.engine.wait_until(lambda: False, 120.0))
    await rig.run(119.0)
    assert not waiting.done()  # two minutes have not passed on the engine's clock
    await rig.run(2.0)
    assert waiting.done() and waiting.result() is False
    assert time.monotonic() - started < 60.0  # two minutes of fake time, not of real time
    # Only the probes and the usage report's reader sleep.
    assert rig.clock.pending == len(rig.engine.scheduler.tasks) + len(sleepers_besides_probes(rig))


async def test_wait_until_returns_as_soon_as_an_event_makes_the_predicate_true(rig):
    import asyncio

    rig.engine.start()
    waiting = asyncio.ensure_future(rig.engine.wait_until(lambda: rig.engine.gate.open, 60.0))
    assert await rig.run_until(lambda: waiting.done())
    assert waiting.result() is True and rig.engine.gate.open
    assert rig.clock.now() < 60.0
    # Its timer is gone: only the probes and the usage report's reader sleep.
    assert rig.clock.pending == len(rig.engine.scheduler.tasks) + len(sleepers_besides_probes(rig))


async def test_done_waits_for_the_deployment_to_answer_live_after_the_revoke(rig):
    """The deployment's streak that opened the gate is no evidence that the app stays up
    once the old key dies: while no deployment answer has come back since the revoke, the
    rotation keeps verifying, however often the old key is refused. (Seen in CI as a race:
    two refusals of the old key arrived before the deployment's first answer after the
    revoke, and the rotation was done before the deployment could raise its alarm.)"""
    from providers.results import ProbeResult, Verdict

    rig.engine.start()
    assert await rig.run_until(lambda: rig.engine.can_revoke)
    assert rig.engine.tracks[Role.DEPLOYMENT].complete

    async def unanswered(client, key, timeout):  # a request that never comes back
        await rig.clock.sleep_until(rig.clock.now() + 3600)
        return ProbeResult(Verdict.UNREACHABLE, detail="timed out", at=rig.clock.now())

    rig.engine.deployment.probe = unanswered
    await rig.engine.revoke()
    await rig.run(10.0)  # the old key refused on every tick, ten times the streak
    assert rig.engine.tracks[Role.OLD].complete
    assert rig.engine.phase is Phase.VERIFYING
    assert "done" not in phases(rig)
