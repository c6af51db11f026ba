"""The demo's whole flow on its simulated Worker, as a first-time user goes through it:
the new key is there, it is written to the Worker, it lands, the old key is revoked and
proved dead; the report tells where the key was written, and no key is in any file."""

from __future__ import annotations

from pathlib import Path

from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_engine import make_rig
from tui.engine.audit import AuditLog
from tui.engine.push import push
from tui.engine.report import write_report
from tui.engine.rotation import Phase


async def test_write_land_revoke_and_a_report_that_says_where_the_key_went(tmp_path: Path) -> None:
    rig = make_rig(worker=True, keys=(CANARY_OLD, CANARY_NEW, CANARY_ADMIN))
    engine = rig.engine
    engine.audit = AuditLog(tmp_path)
    try:
        engine.start()
        assert await rig.run_until(lambda: engine.first_live_at is not None, limit=10)
        assert rig.world.served_key() == CANARY_OLD  # the Worker still serves OLD
        [result] = await push(engine, "new", ask=None)  # type: ignore[arg-type]
        assert result.ok
        assert await rig.run_until(lambda: engine.phase is Phase.READY, limit=20)
        await engine.revoke()
        assert await rig.run_until(lambda: engine.phase is Phase.DONE, limit=30)
    finally:
        await rig.close()
    report = write_report(tmp_path, "demo", engine).read_text()
    assert ("| destination_write | destination Worker demo-worker (ANTHROPIC_API_KEY); slot new; "
            "result written; request_id ") in report
    assert_no_canary(paths=[tmp_path])
