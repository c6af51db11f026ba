"""The platform's word in the gate: Revoke stays locked while a Worker's serving deployment
gives traffic to a version created before keyturn wrote the NEW key there.

The rule on its own (gate.with_platform_rollout), then the demo's simulated Worker on a
fake clock: the gate opens only after the write, locks again when the Worker is rolled
back behind the deployment probe's back, and a restarted run remembers the write.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support_engine import make_rig
from tui.engine.audit import AuditLog
from tui.engine.gate import GateState, PlatformRollout, with_platform_rollout
from tui.engine.push import push
from tui.engine.rotation import Phase, RotationEngine

WROTE = datetime(2026, 3, 2, 12, 3, 5, tzinfo=UTC)
BEFORE = WROTE - timedelta(days=2)
AFTER = WROTE + timedelta(milliseconds=400)
OPEN = GateState(True)


def judged(*rollouts: PlatformRollout) -> GateState:
    return with_platform_rollout(OPEN, rollouts)


def test_an_older_version_taking_any_traffic_locks_the_gate_and_says_how_much() -> None:
    gate = judged(PlatformRollout("Worker svc (KEY)", WROTE, (("9c1d2e3f…", 90.0, AFTER),
                                                              ("3f2a1b9c…", 10.0, BEFORE))))
    assert not gate.open
    assert gate.reasons == (("Worker svc (KEY): 10 % on version 3f2a1b9c… from before the NEW "
                             "key was written"),)


def test_only_versions_from_the_write_on_leave_the_gate_as_it_was() -> None:
    shares = (("9c1d2e3f…", 100.0, AFTER), ("3f2a1b9c…", 0.0, BEFORE))  # the old one at 0 %
    assert judged(PlatformRollout("Worker svc (KEY)", WROTE, shares)) == OPEN
    locked = GateState(False, ("new key 2/5 live",))
    assert with_platform_rollout(locked, (
        PlatformRollout("Worker svc (KEY)", WROTE, (("9c1d2e3f…", 100.0, AFTER),)),)) == locked


def test_no_write_an_unknown_creation_time_or_an_unread_platform_keep_it_locked() -> None:
    assert judged(PlatformRollout("Worker a (KEY)", None, (("9c1d2e3f…", 100.0, AFTER),))
                  ).reasons == ("NEW key not written to Worker a (KEY) yet (w, or `keyturn push`)",)
    assert judged(PlatformRollout("Worker b (KEY)", WROTE, (("9c1d2e3f…", 100.0, None),))
                  ).reasons == (("Worker b (KEY): 100 % on version 9c1d2e3f…, whose creation "
                                 "time could not be read"),)
    assert judged(PlatformRollout("Worker c (KEY)", WROTE, (), "cannot read its deployments: "
                                  "authentication failed")).reasons == (
        "Worker c (KEY): cannot read its deployments: authentication failed",)


async def test_the_demo_worker_opens_the_gate_only_after_the_write_and_relocks_on_a_rollback(
    tmp_path,
) -> None:
    rig = make_rig(worker=True)
    rig.engine.audit = AuditLog(tmp_path)
    engine = rig.engine
    try:
        engine.start()
        # The new key is live long before anything is written; the Worker serves OLD.
        assert await rig.run_until(lambda: engine.tracks["new"].complete, limit=20)
        await rig.run(10)
        assert not engine.gate.open
        assert any("NEW key not written to Worker demo-worker" in r for r in engine.gate.reasons)

        [result] = await push(engine, "new", ask=None)  # type: ignore[arg-type]
        assert result.ok
        assert await rig.run_until(lambda: engine.phase is Phase.READY, limit=30)

        # Someone rolls the Worker back to its first version; the deployment probe has not
        # noticed (it still reports NEW), but Cloudflare says what takes the traffic.
        worker = rig.demo.worker
        first = worker.versions[0]
        worker.deployments.insert(0, ("dep-rb", worker.now(), "rollback", [(first.id, 100.0)]))
        assert await rig.run_until(lambda: not engine.gate.open, limit=10)
        assert engine.phase is Phase.PROPAGATING
        assert engine.tracks["deployment"].complete  # the other rules still pass
        assert engine.gate.reasons == ((
            f"Worker demo-worker (ANTHROPIC_API_KEY): 100 % on version {first.id[:8]}… from "
            "before the NEW key was written"),)
        with_time = engine.platform.lines()[0]
        assert with_time[1].startswith(f"100 % on version {first.id[:8]}…, deployed 12:")
        assert with_time[1].endswith("by a rollback") and with_time[2] == "NEW written 12:00 UTC"
    finally:
        await rig.close()

    # A restarted run reads the write from the audit log: it is not asked for again.
    again = RotationEngine(rig.demo.rotation, rig.demo.provider, rig.demo.keys, None,
                           clock=rig.clock, audit=AuditLog(tmp_path))
    assert not any("not written" in r for r in again.gate.reasons)
    # (Not read yet: the date is shown, as Cloudflare's "today" is not known.)
    assert again.platform.lines()[0][2] == "NEW written Jan 05 12:00 UTC"
