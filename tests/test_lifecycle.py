"""Lifecycle on a fake clock: resume points, restore, the report and key-slot promotion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from providers.keys import fingerprint
from providers.simulated import DEPLOYMENT_URL, SimulatedProvider, SimulatedWorld
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_keyring import MemoryKeyring
from tests.support_lifecycle import canary_world, make_config, write_event
from tui.engine import history, lifecycle, report
from tui.engine.admin_revoke import resume_unanswered
from tui.engine.audit import AuditLog
from tui.engine.bound import percent
from tui.engine.config import Rotation
from tui.engine.credentials import Secret
from tui.engine.history import resume_point
from tui.engine.lifecycle import promote_slots, status_rows
from tui.engine.rotation import Phase, RevokeRefused, RotationEngine
from tui.engine.scheduler import FakeClock
from tui.engine.session import Keys, load_keys, open_client

OLD_FP, NEW_FP = fingerprint(CANARY_OLD), fingerprint(CANARY_NEW)
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


# -- resume points from the log ---------------------------------------------------------


def ev(event: str, **fields: object) -> dict:
    return {"time": "2026-05-01T09:00:00.000Z", "rotation": "r", "event": event, **fields}


@pytest.mark.parametrize(
    ("trail", "phase", "key_id", "unanswered"),
    [
        ([], None, None, False),
        ([ev("gate_opened", old=OLD_FP)], None, None, False),
        ([ev("revoke_requested", old=OLD_FP, method="admin")], "verifying", None, True),
        ([ev("revoke_requested", old=OLD_FP, method="admin"),
          ev("revoke_confirmed", old=OLD_FP, key_id="k1", request_id="q")], "verifying", "k1", False),
        ([ev("revoke_requested", old=OLD_FP, method="console")], "revoking", None, False),
        ([ev("revoke_requested", old=OLD_FP, method="console"),
          ev("revoke_confirmed", old=OLD_FP, method="console")], "verifying", None, False),
        # the admin call failed: the key is still active, a new attempt may revoke
        ([ev("revoke_requested", old=OLD_FP, method="admin"),
          ev("failure", old=OLD_FP, detail="admin API refused POST (500)")], None, None, False),
        ([ev("revoke_requested", old=OLD_FP, method="admin"),
          ev("revoke_confirmed", old=OLD_FP, key_id="k1"),
          ev("deployment_alarm", old=OLD_FP),
          ev("failure", old=OLD_FP, detail="reactivate: admin API unreachable")], "verifying", "k1", False),
        ([ev("revoke_requested", old=OLD_FP, method="admin"),
          ev("revoke_confirmed", old=OLD_FP, key_id="k1"),
          ev("rollback", old=OLD_FP, key_id="k1")], None, None, False),
        ([ev("revoke_requested", old=OLD_FP, method="admin"),
          ev("revoke_confirmed", old=OLD_FP, key_id="k1"),
          ev("old_key_dead", old=OLD_FP), ev("done", old=OLD_FP, new=NEW_FP)], "done", "k1", False),
        # another key's rotation says nothing about this one
        ([ev("revoke_requested", old="000000000000", method="admin")], None, None, False),
    ],
    ids=["empty", "gate-only", "requested", "confirmed", "console-asked", "console-confirmed",
         "admin-failed", "alarm-then-reactivate-failed", "rolled-back", "done", "other-key"],
)
def test_resume_point_from_the_log(trail, phase, key_id, unanswered) -> None:
    point = resume_point(trail, OLD_FP)
    if phase is None:
        assert point is None
    else:
        assert point is not None
        assert (point.phase, point.key_id, point.unanswered) == (phase, key_id, unanswered)


# -- an engine on a fake clock ----------------------------------------------------------


@dataclass
class Rig:
    engine: RotationEngine
    world: SimulatedWorld
    clock: FakeClock
    audit: AuditLog
    state: Path

    async def run_until(self, done, limit: float = 120.0) -> None:
        waited = 0.0
        while not done():
            assert waited < limit, f"stuck in {self.engine.phase}"
            await self.clock.advance(0.25)
            waited += 0.25


def simulated_rotation(tmp_path: Path, **overrides: object) -> Rotation:
    """The deployment asked once a tick with the bound off unless told otherwise: these
    tests are about finishing, resuming and the record; the report's evidence test sets
    the bound as the config's defaults do (40 samples a tick, max_old_share 1 %)."""
    fields = {"provider": "simulated", "deployment": DEPLOYMENT_URL, "interval": 0.5,
              "timeout": 0.4, "streak": 3, "rotate_every": "90d", "samples": 1,
              "max_old_share": 1.0, **overrides}
    return make_config(tmp_path, {"sim": fields}).rotation("sim")


@asynccontextmanager
async def rig(tmp_path: Path, rotation: Rotation | None = None, keys: Keys | None = None,
              **world_kwargs: object) -> AsyncIterator[Rig]:
    clock = FakeClock()
    start = clock.now()
    world = canary_world(clock=clock.now, switch_at=1.0, window=2.0, revoke_delay=1.0, **world_kwargs)
    rotation = rotation or simulated_rotation(tmp_path)
    keys = keys or Keys(Secret(CANARY_OLD), Secret(CANARY_NEW), Secret(CANARY_ADMIN))
    state = tmp_path / "state"
    # Audit times follow the fake clock, so durations in the report are exact.
    audit = AuditLog(state, now=lambda: T0 + timedelta(seconds=clock.now() - start))
    provider = SimulatedProvider(transport=world.transport)
    async with open_client(provider) as client:
        engine = RotationEngine(rotation, provider, keys, client, clock=clock, audit=audit)
        try:
            yield Rig(engine, world, clock, audit, state)
        finally:
            await engine.stop()


async def test_a_finished_rotation_logs_done_with_its_keys_and_probe_count(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        at_done: list[int] = []
        r.engine.listeners.append(lambda event: at_done.append(sum(r.engine.probe_counts.values()))
                                  if getattr(event, "phase", None) is Phase.DONE else None)
        r.engine.start()
        await r.run_until(lambda: r.engine.can_revoke)
        await r.engine.revoke()
        await r.run_until(lambda: r.engine.phase is Phase.DONE)
        (done,) = [e for e in r.audit.events() if e["event"] == "done"]
        assert (done["old"], done["new"]) == (OLD_FP, NEW_FP)
        assert [done["probes"]] == at_done and at_done[0] > 0


async def test_an_unanswered_revoke_is_settled_by_asking_the_provider_never_by_resending(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        # the previous run's revoke reached the provider, then the process died; by now the
        # deployment serves NEW
        await r.clock.advance(4.0)
        r.world.set_status(r.world.keys[CANARY_OLD].id, "inactive")
        write_event(r.state, T0, "sim", "revoke_requested", old=OLD_FP, new=NEW_FP, method="admin")
        point = lifecycle.resume(r.engine, r.audit)
        assert point is not None and point.unanswered
        # Until the provider has been asked, nothing may be sent.
        with pytest.raises(RevokeRefused):
            await r.engine.revoke()
        assert await resume_unanswered(r.engine, point) == "verifying"
        assert r.engine.phase is Phase.VERIFYING
        assert [c.method for c in r.world.admin_calls] == ["GET"]  # the status read, no POST
        r.engine.start()
        await r.run_until(lambda: r.engine.phase is Phase.DONE)
        assert r.world.revoke_calls() == []  # since then only reads (the usage report's)
        trail = [e["event"] for e in r.audit.events()]
        assert trail.count("revoke_requested") == 1
        assert trail[-2:] == ["old_key_dead", "done"]
        assert trail.index("resumed") == trail.index("revoke_requested") + 1
        (confirmed,) = [e for e in r.audit.events() if e["event"] == "revoke_confirmed"]
        assert "inactive" in confirmed["reconciled"]


async def test_restored_console_revocation_waits_for_confirmation(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        write_event(r.state, T0, "sim", "revoke_requested", old=OLD_FP, method="console")
        lifecycle.resume(r.engine, r.audit)
        assert r.engine.phase is Phase.REVOKING and r.engine.awaiting_console
        assert not r.engine.can_revoke
        r.engine.confirm_console()
        assert r.engine.phase is Phase.VERIFYING


async def test_resume_after_a_failed_revoke_starts_over(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        write_event(r.state, T0, "sim", "revoke_requested", old=OLD_FP, method="admin")
        write_event(r.state, T0, "sim", "failure", old=OLD_FP, detail="admin API unreachable")
        assert lifecycle.resume(r.engine, r.audit) is None
        assert r.engine.phase is Phase.WAITING
        r.engine.start()
        await r.run_until(lambda: r.engine.can_revoke)
        await r.engine.revoke()
        assert [c.status for c in r.world.revoke_calls()] == ["inactive"]


# -- the report ---------------------------------------------------------------------------


async def test_report_has_timeline_propagation_probes_and_request_ids_and_no_key(tmp_path: Path) -> None:
    bound = simulated_rotation(tmp_path, samples=40, max_old_share=0.01)
    async with rig(tmp_path, bound) as r:
        r.engine.start()
        await r.run_until(lambda: r.engine.can_revoke)
        await r.engine.revoke()
        await r.run_until(lambda: r.engine.phase is Phase.DONE)
        path = report.write_report(make_config(tmp_path, {}), "sim", r.engine)
        text = path.read_text(encoding="utf-8")
        trail = list(r.audit.events())

    assert path.parent == r.state and path.name.startswith("report-sim-") and path.suffix == ".md"
    times = {e["event"]: history.parse_time(e["time"]) for e in trail}
    propagation = (times["gate_opened"] - times["new_key_live"]).total_seconds()
    assert propagation > 0
    assert f"propagation (new key first live → gate open): {propagation:.1f} s" in text
    counts = r.engine.done_counts  # as the done event counted them (probing goes on)
    total = sum(counts.values())
    assert f"probes made: {total} (old {counts[next(iter(counts))]}" in text
    (post,) = r.world.revoke_calls()
    assert f"admin call request ids: `{post.request_id}`" in text
    for event in ("new_key_live", "gate_opened", "revoke_requested", "revoke_confirmed", "done"):
        assert f"| {event} |" in text
    assert f"`{OLD_FP}`" in text and f"`{NEW_FP}`" in text
    # The evidence the revoke rested on, as the engine recorded it with the request.
    (asked,) = [e for e in trail if e["event"] == "revoke_requested"]
    assert asked["samples_since_old"] >= asked["samples_needed"] > 0
    assert asked["old_share_bound"] <= asked["max_old_share"] == 0.01
    assert (f"- evidence the revoke rested on: {asked['samples_since_old']} NEW deployment samples "
            f"since OLD was last seen {asked['old_last_seen_s']:g} s earlier: OLD share < "
            f"{percent(asked['old_share_bound'])} (95 % confidence), within max_old_share 1 % "
            f"({asked['samples_needed']} samples needed)") in text, text
    (done,) = [e for e in trail if e["event"] == "done"]
    # Every deployment request is a sample, 40 a tick (more were sent after `done`).
    assert 0 < done["deployment_requests"] <= r.world.deployment_requests
    assert done["deployment_requests"] % 40 == 0
    assert f"- deployment requests (samples): {done['deployment_requests']}" in text
    assert_no_canary(text, paths=[r.state])


async def test_report_counts_the_probes_the_done_event_counted(tmp_path: Path) -> None:
    """Probing goes on while the report is written: it says what `done` said."""
    async with rig(tmp_path) as r:
        r.engine.start()
        await r.run_until(lambda: r.engine.can_revoke)
        await r.engine.revoke()
        await r.run_until(lambda: r.engine.phase is Phase.DONE)
        (done,) = [e for e in r.audit.events() if e["event"] == "done"]
        await r.clock.advance(2.0)  # a few more probes before the report is written
        assert sum(r.engine.probe_counts.values()) > done["probes"]
        text = report.write_report(make_config(tmp_path, {}), "sim", r.engine).read_text()
    assert f"- probes made: {done['probes']} (" in text


def test_report_from_the_log_alone_picks_the_newest_rotation(tmp_path: Path) -> None:
    state = tmp_path / "state"
    write_event(state, T0, "r", "revoke_requested", old="aaaaaaaaaaaa", method="admin")
    write_event(state, T0 + timedelta(seconds=5), "r", "done", old="aaaaaaaaaaaa", new="bbbbbbbbbbbb")
    write_event(state, T0 + timedelta(days=90), "r", "gate_opened", old="bbbbbbbbbbbb", new="cccccccccccc")
    write_event(state, T0 + timedelta(days=90, seconds=1), "r", "revoke_requested",
                old="bbbbbbbbbbbb", method="console")
    write_event(state, T0 + timedelta(days=90, seconds=9), "r", "done", old="bbbbbbbbbbbb",
                new="cccccccccccc", probes=42)
    first = report.write_report(state, "r")
    second = report.write_report(state, "r")
    assert first != second and second.exists()  # never overwrites an earlier report
    text = first.read_text(encoding="utf-8")
    assert "aaaaaaaaaaaa" not in text
    assert "revocation (revoke requested → old key confirmed dead): 8.0 s" in text
    assert "probes made: 42" in text
    assert "revoked in the provider's console" in text
    # A gate opened with the bound off says so, and what decided instead.
    write_event(state, T0 + timedelta(days=180), "r", "gate_opened", old="cccccccccccc",
                new="dddddddddddd", samples_since_old=7, samples_needed=0, old_share_bound=0.348,
                max_old_share=1.0, old_last_seen_s=3.5)
    write_event(state, T0 + timedelta(days=180, seconds=9), "r", "done", old="cccccccccccc",
                new="dddddddddddd")
    text = report.write_report(state, "r").read_text(encoding="utf-8")
    assert ("evidence the revoke rested on: 7 NEW deployment samples since OLD was last seen "
            "3.5 s earlier; the bound was off (max_old_share 1), the deployment's streak decided"
            ) in text, text


# -- key slots ------------------------------------------------------------------------------


async def finished_with_default_slots(tmp_path: Path, memory_keyring: MemoryKeyring) -> Rig:
    memory_keyring.set_password("keyturn", "sim/old", CANARY_OLD)
    memory_keyring.set_password("keyturn", "sim/new", CANARY_NEW)
    memory_keyring.set_password("keyturn", "sim/admin", CANARY_ADMIN)
    rotation = simulated_rotation(tmp_path)
    assert rotation.uses_default_slots()
    async with rig(tmp_path, rotation, load_keys(rotation)) as r:
        r.engine.start()
        await r.run_until(lambda: r.engine.can_revoke)
        # before the revocation is confirmed, nothing moves
        assert not promote_slots(rotation, r.engine.keys, r.audit).promoted
        await r.engine.revoke()
        assert not promote_slots(rotation, r.engine.keys, r.audit).promoted
        assert memory_keyring.store[("keyturn", "sim/new")] == CANARY_NEW
        await r.run_until(lambda: r.engine.phase is Phase.DONE)
    return r


async def test_finished_rotation_promotes_new_into_the_old_slot(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    r = await finished_with_default_slots(tmp_path, memory_keyring)
    finished = lifecycle.finish(make_config(tmp_path, {}), r.engine)
    assert finished.promotion.promoted
    assert memory_keyring.store[("keyturn", "sim/old")] == CANARY_NEW
    assert ("keyturn", "sim/new") not in memory_keyring.store
    assert memory_keyring.store[("keyturn", "sim/admin")] == CANARY_ADMIN
    assert "keyring:keyturn/sim/old" in finished.promotion.message
    # the next rotation starts from the key now in service
    cfg = make_config(tmp_path, {"sim": {"provider": "simulated", "rotate_every": "90d"}})
    (row,) = status_rows(cfg, now=T0 + timedelta(days=1))
    assert (row.old_fingerprint, row.new_fingerprint) == (NEW_FP, None)
    done = [e for e in r.audit.events() if e["event"] == "done"]
    assert row.last_rotated == history.parse_time(done[-1]["time"]) > T0
    assert not row.overdue and row.in_progress is None
    assert [e["event"] for e in r.audit.events()][-1] == "slots_promoted"
    assert_no_canary(finished.promotion.message, paths=[r.state])


async def test_promotion_refuses_when_the_new_slot_changed(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    r = await finished_with_default_slots(tmp_path, memory_keyring)
    memory_keyring.set_password("keyturn", "sim/new", "sk-ant-api03-" + "z" * 60)
    promotion = promote_slots(r.engine.rotation, r.engine.keys, r.audit)
    assert not promotion.promoted and "no longer holds" in promotion.message
    assert memory_keyring.store[("keyturn", "sim/old")] == CANARY_OLD


async def test_promotion_keeps_new_when_the_keychain_drops_the_write(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    r = await finished_with_default_slots(tmp_path, memory_keyring)
    memory_keyring.set_password = lambda *args: None  # a backend that silently drops writes
    promotion = promote_slots(r.engine.rotation, r.engine.keys, r.audit)
    assert not promotion.promoted
    assert memory_keyring.store[("keyturn", "sim/new")] == CANARY_NEW


def test_other_references_are_named_not_touched(tmp_path: Path, memory_keyring: MemoryKeyring,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_OLD", CANARY_OLD)
    memory_keyring.set_password("vault", "app-new", CANARY_NEW)
    rotation = make_config(tmp_path, {"app": {"provider": "anthropic", "old": "env:APP_OLD",
                                              "new": "keyring:vault/app-new"}}).rotation("app")
    audit = AuditLog(tmp_path / "state")
    audit.append("app", "done", old=OLD_FP, new=NEW_FP)
    promotion = promote_slots(rotation, load_keys(rotation), audit)
    assert not promotion.promoted
    assert "env:APP_OLD" in promotion.message and "keyring:vault/app-new" in promotion.message
    assert NEW_FP in promotion.message
    assert memory_keyring.store == {("vault", "app-new"): CANARY_NEW}
    assert_no_canary(promotion.message)


def test_revoke_finishes_a_promotion_a_crash_interrupted(
    tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    # killed after writing OLD and before clearing NEW: the new key sits in both slots
    memory_keyring.set_password("keyturn", "app/old", CANARY_NEW)
    memory_keyring.set_password("keyturn", "app/new", CANARY_NEW)
    config = tmp_path / "keyturn.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n[rotations.app]\nprovider = "anthropic"\n')
    write_event(tmp_path / "state", T0, "app", "done", old=OLD_FP, new=NEW_FP)
    assert main(["--config", str(config), "revoke", "app", "--yes"]) == 2
    captured = capsys.readouterr()
    assert "finished an interrupted promotion" in captured.out
    assert "no new key configured" in captured.err
    assert memory_keyring.store == {("keyturn", "app/old"): CANARY_NEW}
    assert_no_canary(captured.out, captured.err, paths=[tmp_path / "state"])


def test_same_key_in_both_slots_without_a_finished_rotation_is_left_alone(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("keyturn", "app/old", CANARY_NEW)
    memory_keyring.set_password("keyturn", "app/new", CANARY_NEW)
    rotation = make_config(tmp_path, {"app": {"provider": "anthropic"}}).rotation("app")
    assert lifecycle.finish_interrupted_promotion(rotation, AuditLog(tmp_path / "state")) is None
    assert len(memory_keyring.store) == 2


async def test_engine_refuses_a_second_revoke_even_without_resume(tmp_path: Path) -> None:
    """A front end that forgets `lifecycle.resume` still cannot revoke a key twice."""
    async with rig(tmp_path) as r:
        write_event(r.state, T0, "sim", "revoke_requested", old=OLD_FP, method="admin")
        r.engine.start()
        await r.run_until(lambda: r.engine.gate.open)
        with pytest.raises(RevokeRefused, match="already verifying"):
            await r.engine.revoke()
        assert r.world.revoke_calls() == []  # reads only (the usage report's key lookups)
