"""The usage rule in the gate: Revoke stays locked while the provider counts the OLD key in
a minute after the switch, opens when it does not, waits for `drain`, and is set aside only
on a person's word, in the audit log. On the simulated world (FakeClock) and over HTTP."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from providers.anthropic import AnthropicProvider
from providers.usage import Count, ReportClock
from tests.provider_server import OPENAI, ProviderServer
from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    CANARY_OPENAI,
    assert_no_canary,
)
from tests.support_engine import make_rig
from tests.support_server import engine_on
from tests.test_usage_report import T0
from tui.engine.audit import AuditLog
from tui.engine.credentials import Secret
from tui.engine.gate import Role, usage_rule
from tui.engine.rotation import GateLocked, Phase, RotationEngine
from tui.engine.scheduler import FakeClock
from tui.engine.session import Keys, open_client
from tui.engine.usage import UsageWatch

pytest_plugins = ["tests.server_fixtures"]

STRAY = re.compile(r"the provider counted 41,000 tokens on the OLD key at \d\d:\d\d UTC, after "
                   r"your deployment moved to NEW — something else still uses it")


def rig_with(tmp_path: Path, **options):
    rig = make_rig(**options)
    rig.engine.audit = AuditLog(tmp_path)
    return rig


def events(tmp_path: Path, name: str) -> list[dict]:
    return [e for e in AuditLog(tmp_path).events() if e["event"] == name]


async def locked_by_a_stray(tmp_path: Path):
    """A started rig whose OLD key a second service uses after the switch (41,000 tokens a
    minute from world second 12), run until the provider's count locks Revoke."""
    rig = rig_with(tmp_path)
    rig.world.usage.stray(rig.world.keys[rig.world.old].id, world_from=12.0)
    rig.engine.start()
    assert await rig.run_until(lambda: bool(rig.engine.usage_lock), limit=60)
    return rig


async def test_old_counted_after_the_deployment_moved_keeps_revoke_locked(tmp_path: Path) -> None:
    rig = await locked_by_a_stray(tmp_path)  # a cron job on OLD, after the switch
    try:
        await rig.run(20.0)
        engine = rig.engine
        assert engine.tracks[Role.NEW].complete and engine.tracks[Role.DEPLOYMENT].complete
        (reason,) = engine.gate.reasons  # the provider's count is the only thing in the way
        assert STRAY.fullmatch(reason), reason
        assert engine.phase is Phase.PROPAGATING and not engine.can_revoke
        with pytest.raises(GateLocked, match="something else still uses it"):
            await engine.revoke()
        assert rig.world.revoke_calls() == []
        (locked, *_) = events(tmp_path, "usage_locked")
        assert STRAY.fullmatch(locked["detail"])
    finally:
        await rig.close()


async def test_a_quiet_old_key_after_the_switch_lets_revoke_unlock(tmp_path: Path) -> None:
    rig = rig_with(tmp_path)
    rig.engine.start()
    try:
        # Wait until the report has counted well past the switch: the rule really looked.
        assert await rig.run_until(lambda: (u := rig.engine.usage).covered_to is not None
                                   and u.switch_at is not None
                                   and u.covered_to > u.switch_at + 180, limit=60)
        usage = rig.engine.usage
        assert rig.engine.gate.open and rig.engine.phase is Phase.READY
        assert usage.old_after_switch == () and rig.engine.usage_lock == ()
        assert usage.old_last_used is not None and usage.old_last_used <= usage.switch_at
        assert usage.new_since_switch and usage.new_since_switch > 0
        assert events(tmp_path, "usage_locked") == []
    finally:
        await rig.close()


async def test_new_since_the_switch_waits_for_the_report_to_count_the_switch(
    tmp_path: Path,
) -> None:
    """Before the report has counted the switch's minute, NEW's count since the switch is
    not known: it is left out, never shown as 0 tokens."""
    from tui.engine.usage import UsageUpdated

    rig = rig_with(tmp_path)
    seen = []
    rig.engine.listeners.append(lambda e: seen.append(e.usage) if isinstance(e, UsageUpdated)
                                else None)
    rig.engine.start()
    try:
        assert await rig.run_until(lambda: rig.engine.usage.new_since_switch is not None,
                                   limit=60)
    finally:
        await rig.close()
    moved = [u for u in seen if u.switch_words == "after your deployment moved to NEW"]
    withheld = [u for u in moved if u.new_since_switch is None]
    assert withheld, "the report should lag the switch by minutes"
    assert all(u.covered_to is None or u.covered_to < u.switch_at // 60 * 60 + 60
               for u in withheld)
    given = [u for u in moved if u.new_since_switch is not None]
    assert given and all(u.covered_to >= u.switch_at // 60 * 60 + 60 for u in given)
    assert given[-1].new_since_switch > 0


async def test_first_seen_on_new_stands_in_when_the_deployment_never_named_old(
    tmp_path: Path,
) -> None:
    rig = rig_with(tmp_path, switch_at=-100.0, window=0.0)  # on NEW before keyturn looked
    old_id = rig.world.keys[rig.world.old].id
    rig.world.usage.stray(old_id, world_from=4.0, tokens_per_minute=41)
    rig.engine.start()
    try:
        assert await rig.run_until(lambda: bool(rig.engine.usage_lock), limit=60)
        (reason,) = rig.engine.usage_lock
        assert "41 tokens on the OLD key" in reason
        assert "after keyturn first saw your deployment on NEW" in reason
    finally:
        await rig.close()


async def test_setting_the_count_aside_is_recorded_with_its_figure(tmp_path: Path) -> None:
    rig = await locked_by_a_stray(tmp_path)
    try:
        rig.engine.ignore_usage("--ignore-usage")
        assert await rig.run_until(lambda: rig.engine.can_revoke, limit=20)
        (override,) = events(tmp_path, "usage_override")
        assert override["detail"].startswith("set aside by --ignore-usage: the provider counted "
                                             "41,000 tokens on the OLD key at ")
        await rig.engine.revoke()
        assert len(rig.world.revoke_calls()) == 1
        # After the revoke there is nothing left to set aside: no second record.
        rig.engine.usage_ignored = None
        rig.engine.ignore_usage("--ignore-usage")
        assert rig.engine.usage_ignored is None
        assert len(events(tmp_path, "usage_override")) == 1
    finally:
        await rig.close()


async def test_a_new_new_key_is_judged_again_by_the_count(tmp_path: Path) -> None:
    """Setting the count aside was for the figures of the NEW key then entered."""
    rig = await locked_by_a_stray(tmp_path)
    try:
        rig.engine.ignore_usage("you, in the dashboard, confirmed twice")
        rig.engine.set_new_key(Secret(rig.world.new))  # the same key, entered again
        assert rig.engine.usage_ignored is None
        assert not rig.engine.gate.open
        assert any("something else still uses it" in r for r in rig.engine.gate.reasons)
    finally:
        await rig.close()


async def test_each_usage_event_carries_the_lock_its_figures_give(tmp_path: Path) -> None:
    """A front end shows the figures and the lock of the same moment (`--json` puts both
    in one `usage` object): the lock is judged before the event goes out."""
    from tui.engine.usage import UsageUpdated

    rig = rig_with(tmp_path)
    rig.world.usage.stray(rig.world.keys[rig.world.old].id, world_from=12.0)
    pairs = []
    rig.engine.listeners.append(
        lambda e: pairs.append((e.usage.old_after_switch, rig.engine.usage_lock))
        if isinstance(e, UsageUpdated) else None)
    rig.engine.start()
    try:
        assert await rig.run_until(lambda: bool(rig.engine.usage_lock), limit=60)
    finally:
        await rig.close()
    first = next(i for i, (after, _) in enumerate(pairs) if after)
    assert pairs[first][1], "the event that first shows OLD after the switch shows the lock"
    assert all(bool(after) == bool(lock) for after, lock in pairs)


async def test_drain_waits_for_the_report_to_count_that_long_after_the_switch(
    tmp_path: Path,
) -> None:
    rig = rig_with(tmp_path)
    rig.engine.rotation = dataclasses.replace(rig.engine.rotation, drain="10m")
    rig.engine.start()
    try:
        assert await rig.run_until(lambda: rig.engine.tracks[Role.DEPLOYMENT].complete)
        await rig.run(2.0)
        (reason,) = rig.engine.gate.reasons
        assert re.fullmatch(r"drain 10 min: waiting for the provider's report to count 10 min "
                            r"after the switch \(report to \d\d:\d\d UTC; needs \d\d:\d\d UTC\)",
                            reason), reason
        assert await rig.run_until(lambda: rig.engine.gate.open, limit=60)
        usage = rig.engine.usage
        assert usage.covered_to >= usage.switch_at + 600  # counted ten minutes past the switch
    finally:
        await rig.close()


async def test_an_unreadable_report_locks_only_a_drain(tmp_path: Path) -> None:
    for drain in (None, "10m"):
        rig = rig_with(tmp_path)
        rig.engine.rotation = dataclasses.replace(rig.engine.rotation, drain=drain)
        rig.world.usage.forced = [500] * 1000
        rig.engine.start()
        try:
            await rig.run(40.0)
            usage = rig.engine.usage
            assert usage.state == "unavailable" and "500" in usage.why
            if drain is None:  # the probes and the other rules go on as before
                assert rig.engine.gate.open and rig.engine.phase is Phase.READY
            else:
                (reason,) = rig.engine.gate.reasons
                assert "nothing counted yet; usage report unavailable (admin API refused GET " \
                       "(500)" in reason
        finally:
            await rig.close()


async def test_without_an_admin_key_nothing_changes_and_the_figures_say_why(
    tmp_path: Path,
) -> None:
    rig = rig_with(tmp_path, admin=False)
    rig.engine.start()
    try:
        assert await rig.run_until(lambda: rig.engine.gate.open, limit=30)
        usage = rig.engine.usage
        assert usage.state == "off" and "no admin key" in usage.why
        assert "keeps Revoke locked while anything else still uses the OLD key" in usage.why
        assert rig.world.usage.reads == 0 and rig.world.admin_calls == []
    finally:
        await rig.close()


async def test_without_a_deployment_drain_waits_for_a_quiet_old_key(tmp_path: Path) -> None:
    rig = make_rig()
    await rig.engine.client.aclose()
    rotation = dataclasses.replace(rig.demo.rotation, deployment=None, drain="5m")
    engine = RotationEngine(rotation, rig.demo.provider, rig.demo.keys,
                            open_client(rig.demo.provider), clock=rig.clock)
    rig.engine = engine
    old_id = rig.world.keys[rig.world.old].id
    # Something on OLD until world second 10 (report 12:05); nothing witnesses a switch.
    rig.world.usage.stray(old_id, world_from=0.0, tokens_per_minute=900, world_until=10.0)
    engine.start()
    try:
        await rig.run(16.0)
        (reason,) = engine.gate.reasons
        assert re.fullmatch(r"drain 5 min: waiting for the provider's report to show the OLD key "
                            r"unused for 5 min \(last counted \d\d:\d\d UTC; report to "
                            r"\d\d:\d\d UTC\)", reason), reason
        # Five counted minutes after OLD's last use (12:04), Revoke unlocks.
        assert await rig.run_until(lambda: engine.gate.open, limit=60)
        usage = engine.usage
        assert usage.old_last_used == usage.quiet_since - 60
        assert usage.covered_to >= usage.quiet_since + 300
    finally:
        await rig.close()


def test_a_minute_that_holds_the_switch_is_not_after_it() -> None:
    """The deployment answered on OLD at 12:06:30 and on NEW at 12:06:40: OLD counted in the
    minute of 12:06 is its own last traffic; in the minute of 12:07, something else's. When
    the move falls between two probes that straddle 12:07 (OLD at 12:06:59, NEW at 12:07:01),
    or a few seconds before it, the minute of 12:07 may hold the deployment's own last
    requests: it is not after the switch."""
    keys = Keys(Secret(CANARY_OLD), Secret(CANARY_NEW), Secret(CANARY_ADMIN))
    now = [0.0]
    watch = UsageWatch(AnthropicProvider(), keys, lambda: None, FakeClock(), timeout=1.0,
                       deployment=True, wall=ReportClock(lambda: now[0]))
    watch.ids = {keys.old.fingerprint: "apikey_old", keys.new.fingerprint: "apikey_new"}
    watch.reads, watch.covered_to = 1, T0 + 15 * 60
    watch.counts = {T0 + 6 * 60: {"apikey_old": Count(None, 5)},
                    T0 + 7 * 60: {"apikey_old": Count(None, 1)}}
    watch.asked = dict.fromkeys(watch.counts, frozenset({"apikey_old", "apikey_new"}))

    def deployment_says(fp: str, at: float) -> None:
        now[0] = at
        watch.on_event(SimpleNamespace(role="deployment",
                                       result=SimpleNamespace(served_fingerprint=fp)))

    def after_switch(old_at: float, new_at: float) -> tuple[tuple[int, int], ...]:
        deployment_says(keys.old.fingerprint, old_at)
        deployment_says(keys.new.fingerprint, new_at)
        now[0] = T0 + 20 * 60
        return watch.figures().old_after_switch

    assert after_switch(T0 + 6 * 60 + 30, T0 + 6 * 60 + 40) == ((T0 + 7 * 60, 1),)
    assert usage_rule(watch.figures()) == (
        ("the provider counted 1 token on the OLD key at 12:07 UTC, after your deployment "
         "moved to NEW — something else still uses it"),)
    assert after_switch(T0 + 6 * 60 + 59, T0 + 7 * 60 + 1) == ()  # moved during 12:07
    assert after_switch(T0 + 6 * 60 + 50, T0 + 6 * 60 + 57) == ()  # 3 s before: the skew
    deployment_says(keys.old.fingerprint, T0 + 7 * 60)
    now[0] = T0 + 20 * 60
    assert watch.figures().old_after_switch == ()
    assert usage_rule(watch.figures()) == ()
    # Drain: 12:07 + 3 min needs the report to 12:10; counted to 12:09 is not enough.
    watch.covered_to = T0 + 9 * 60
    watch._version += 1
    assert usage_rule(watch.figures(), drain=180)
    watch.covered_to = T0 + 10 * 60
    watch._version += 1
    assert usage_rule(watch.figures(), drain=180) == ()


def deployment_on_new(server: ProviderServer) -> str:
    """The server knows an OLD key (returned), NEW and the admin key; the deployment is
    already on NEW."""
    old = CANARY_OLD if server.flavour != OPENAI else CANARY_OPENAI
    server.add_key(old)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    server.serving = CANARY_NEW
    return old


async def test_over_http_old_counted_after_the_switch_locks_until_set_aside(
    server: ProviderServer, tmp_path: Path
) -> None:
    old = deployment_on_new(server)
    audit = AuditLog(tmp_path)
    fast = {"interval": 0.05, "timeout": 1.0, "streak": 3}
    async with engine_on(server, old, CANARY_NEW, admin=CANARY_ADMIN, audit=audit, **fast) as run:
        engine, watch = run.engine, run.engine.usage_watch
        await watch.stop()  # the reads below are made by hand, on a report clock set here
        now = [T0]
        watch.wall, watch.started_wall = ReportClock(lambda: now[0]), T0
        assert await run.until(lambda: engine.gate.open, 5.0)
        assert watch.switch() == (T0, "after keyturn first saw your deployment on NEW")
        # The provider counts OLD two minutes after it: a second service still uses it.
        server.count(old, T0 - 120, requests=3, tokens=300)
        server.count(old, T0 + 120, requests=41, tokens=41_000)
        server.usage_to, now[0] = T0 + 600, T0 + 900
        await watch.poll_once()
        figure = "41 requests" if server.flavour == OPENAI else "41,000 tokens"
        assert engine.gate.reasons == (
            (f"the provider counted {figure} on the OLD key at 12:02 UTC, after keyturn first "
             "saw your deployment on NEW — something else still uses it"),)
        assert not engine.can_revoke and server.admin_writes() == []
        engine.ignore_usage("--ignore-usage")
        assert await run.until(lambda: engine.can_revoke, 3.0)
        assert await engine.revoke() is not None
        assert len(server.admin_writes()) == 1
    log = (tmp_path / "audit.jsonl").read_text()
    assert f"set aside by --ignore-usage: the provider counted {figure}" in log
    assert_no_canary(log)


async def test_over_http_old_last_counted_before_the_switch_lets_revoke_unlock(
    server: ProviderServer,
) -> None:
    old = deployment_on_new(server)
    fast = {"interval": 0.05, "timeout": 1.0, "streak": 3}
    async with engine_on(server, old, CANARY_NEW, admin=CANARY_ADMIN, **fast) as run:
        engine, watch = run.engine, run.engine.usage_watch
        await watch.stop()
        now = [T0]
        watch.wall, watch.started_wall = ReportClock(lambda: now[0]), T0
        assert await run.until(lambda: watch.switch()[0] is not None, 5.0)
        server.count(old, T0 - 120, requests=3, tokens=300)  # the deployment's own, before
        server.count(CANARY_NEW, T0 + 120, requests=50, tokens=5_000)
        server.usage_to, now[0] = T0 + 600, T0 + 900
        await watch.poll_once()
        assert await run.until(lambda: engine.can_revoke, 5.0)
        usage = engine.usage
        assert usage.old_last_used == T0 - 120 and usage.old_after_switch == ()
        assert usage.new_since_switch == (50 if server.flavour == OPENAI else 5_000)
