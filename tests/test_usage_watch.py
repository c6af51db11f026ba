"""The usage poller against the loopback providers, on a report clock the test sets: the
report's lag shown and never taken for quiet, keys missing from a bucket, failures that
keep what was counted, retry-after honoured, and reads at most once a minute."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from providers.keys import fingerprint
from providers.usage import ReportClock
from tests.provider_server import ANTHROPIC, OPENAI, ProviderServer
from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    CANARY_OPENAI,
    assert_no_canary,
)
from tests.support_engine import make_rig
from tests.test_usage_report import T0, provider_of
from tui.cli.usage_output import usage_json, usage_line
from tui.engine.credentials import Secret
from tui.engine.scheduler import FakeClock
from tui.engine.session import Keys, open_client
from tui.engine.usage import EVERY, UsageWatch

pytest_plugins = ["tests.server_fixtures"]

MIN = 60
CANARY_NEW_FP = fingerprint(CANARY_NEW)


class Wall:
    """The report's clock, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def clock(self) -> ReportClock:
        return ReportClock(lambda: self.now)


@contextlib.asynccontextmanager
async def watching(server: ProviderServer, wall: Wall,
                   known_old_id=lambda: None) -> AsyncIterator[tuple[UsageWatch, str]]:
    old = CANARY_OLD if server.flavour == ANTHROPIC else CANARY_OPENAI
    server.add_key(old)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    provider = provider_of(server)
    keys = Keys(Secret(old), Secret(CANARY_NEW), Secret(CANARY_ADMIN))
    async with open_client(provider) as client:
        yield UsageWatch(provider, keys, lambda: client, FakeClock(), timeout=5.0,
                         deployment=True, wall=wall.clock(), known_old_id=known_old_id), old


def by_start(usage) -> dict[int, tuple[int | None, int | None]]:
    return {m.start: (m.old, m.new) for m in usage.minutes}


async def test_minutes_the_report_has_not_reached_are_not_yet_counted(server: ProviderServer) -> None:
    wall = Wall(T0 + 40 * MIN)  # 12:40; keyturn starts watching now
    async with watching(server, wall) as (watch, old):
        server.usage_to = T0 + 30 * MIN  # the provider has counted to 12:30
        server.count(old, T0 + 20 * MIN, requests=41, tokens=41_000)
        server.count(old, T0 + 31 * MIN, requests=3, tokens=3_000)  # not in the report yet
        server.count(CANARY_NEW, T0 + 29 * MIN, requests=9, tokens=900)
        assert await watch.poll_once() == EVERY
        usage = watch.figures()
        old_n = 41 if server.flavour == OPENAI else 41_000
        minutes = by_start(usage)
        assert usage.covered_to == T0 + 30 * MIN
        assert minutes[T0 + 20 * MIN] == (old_n, 0)
        assert minutes[T0 + 25 * MIN] == (0, 0)  # an empty bucket: counted, no use
        assert minutes[T0 + 29 * MIN][0] == 0  # OLD missing from the results: none
        assert minutes[T0 + 31 * MIN] == (None, None)  # used, but not counted yet: unknown
        assert usage.old_last_used == T0 + 20 * MIN
        line = usage_line(usage)
        assert "report to 12:30 UTC" in line and "OLD last used 12:20 UTC (20 min ago)" in line
        doc = usage_json(usage)
        assert doc["report_to"] == "2026-01-05T12:30:00Z"
        assert {"start": "2026-01-05T12:31:00Z", "old": None, "new": None} in doc["minutes"]
        # The provider catches up to now: still, the last five minutes are not trusted yet.
        server.usage_to = T0 + 40 * MIN
        wall.now += EVERY
        await watch.poll_once()
        usage = watch.figures()
        assert usage.covered_to == T0 + 36 * MIN  # 12:41 less five minutes
        assert by_start(usage)[T0 + 31 * MIN][0] == (3 if server.flavour == OPENAI else 3_000)
        assert by_start(usage)[T0 + 36 * MIN] == (None, None)
        assert usage.old_last_used == T0 + 31 * MIN


async def test_a_failed_read_keeps_the_counts_says_why_and_waits_as_asked(
    anthropic_server: ProviderServer,
) -> None:
    wall = Wall(T0 + 40 * MIN)
    async with watching(anthropic_server, wall) as (watch, old):
        anthropic_server.usage_to = T0 + 30 * MIN
        anthropic_server.count(old, T0 + 20 * MIN, tokens=41_000)
        await watch.poll_once()
        anthropic_server.retry_after = "300"
        anthropic_server.script("usage", 429, 500, 500)
        assert await watch.poll_once() == 300  # the provider's retry-after
        usage = watch.figures()
        assert usage.state == "unavailable" and "429" in usage.why
        assert by_start(usage)[T0 + 20 * MIN] == (41_000, 0)  # what was counted stays
        assert "usage report unavailable (admin API refused GET (429)" in usage_line(usage)
        assert await watch.poll_once() == 2 * EVERY  # failures back off
        assert await watch.poll_once() == 4 * EVERY
        assert await watch.poll_once() == EVERY
        assert watch.figures().state == "ok" and watch.figures().why == ""


async def test_a_new_key_the_admin_list_does_not_show_is_said_and_old_still_counted(
    anthropic_server: ProviderServer,
) -> None:
    wall = Wall(T0 + 40 * MIN)
    async with watching(anthropic_server, wall) as (watch, old):
        anthropic_server.key_by_raw(CANARY_NEW).listed = False
        anthropic_server.usage_to = T0 + 30 * MIN
        anthropic_server.count(old, T0 + 20 * MIN, tokens=500)
        await watch.poll_once()
        usage = watch.figures()
        assert usage.state == "ok" and usage.new_id is None
        assert "the NEW key's id is not known" in usage.why
        assert by_start(usage)[T0 + 20 * MIN][0] == 500
        assert [v for k, v in anthropic_server.hits("usage")[0].pairs if k == "api_key_ids[]"] \
            == [anthropic_server.key_by_raw(old).id]


async def test_a_revoked_old_key_is_read_by_the_id_its_revoke_recorded(
    anthropic_server: ProviderServer,
) -> None:
    """A run resumed after the revoke: the key list no longer shows OLD as active, and the
    id the audit log kept (the engine's admin_key_id) is read instead."""
    wall = Wall(T0 + 40 * MIN)
    recorded: list[str] = []
    async with watching(anthropic_server, wall, lambda: recorded[0]) as (watch, old):
        recorded.append(anthropic_server.key_by_raw(old).id)
        anthropic_server.key_by_raw(old).status = "inactive"
        anthropic_server.usage_to = T0 + 30 * MIN
        anthropic_server.count(old, T0 + 28 * MIN, tokens=77)
        await watch.poll_once()
        assert watch.figures().old_last_used == T0 + 28 * MIN


async def test_reads_come_once_a_report_minute_and_a_429_waits_its_retry_after() -> None:
    rig = make_rig()  # a report minute is two probe intervals (2 s) of the world
    rig.engine.start()
    try:
        await rig.run(20.0)  # ten report minutes
        reads = rig.world.usage.reads
        assert 9 <= reads <= 11
        rig.world.retry_after = "600"  # ten report minutes
        rig.world.usage.forced = [429]
        await rig.run_until(lambda: rig.world.usage.reads == reads + 1, step=0.5)
        await rig.run(19.0)
        assert rig.world.usage.reads == reads + 1
        assert rig.engine.usage.state == "unavailable" and "429" in rig.engine.usage.why
        await rig.run(2.0)
        assert rig.world.usage.reads == reads + 2 and rig.engine.usage.state == "ok"
    finally:
        await rig.close()


async def test_paused_keyturn_reads_nothing() -> None:
    rig = make_rig()
    rig.engine.start()
    try:
        await rig.run(4.0)
        rig.engine.pause()
        reads = rig.world.usage.reads
        await rig.run(20.0)
        assert rig.world.usage.reads == reads
        rig.engine.resume()
        await rig.run(3.0)
        assert rig.world.usage.reads > reads
    finally:
        await rig.close()


async def test_minutes_read_before_the_old_keys_id_was_known_say_nothing_of_it(
    anthropic_server: ProviderServer,
) -> None:
    """While the key list does not show OLD, the report is read for NEW alone: those
    minutes are not counted for OLD (never zero), a drain cannot pass, and once OLD's id is
    known the whole window is read again and its use after the switch locks Revoke."""
    from tui.engine.gate import usage_rule

    wall = Wall(T0 + 40 * MIN)
    async with watching(anthropic_server, wall) as (watch, old):
        anthropic_server.key_by_raw(old).listed = False
        watch.first_new_at[CANARY_NEW_FP] = T0 + 10 * MIN  # on NEW since 12:10
        anthropic_server.usage_to = T0 + 40 * MIN
        anthropic_server.count(old, T0 + 20 * MIN, tokens=41_000)  # OLD still used at 12:20
        anthropic_server.count(CANARY_NEW, T0 + 21 * MIN, tokens=900)
        await watch.poll_once()
        usage = watch.figures()
        assert usage.old_id is None and "the OLD key's id is not known" in usage.why
        assert by_start(usage)[T0 + 20 * MIN] == (None, 0)  # not asked: not counted
        assert by_start(usage)[T0 + 21 * MIN] == (None, 900)
        assert usage_rule(usage) == ()  # nothing known against OLD ...
        (drain,) = usage_rule(usage, drain=600)  # ... and nothing known for it either
        assert "while its key id is not known" in drain
        # The key list shows OLD again: the minutes read without it are read again.
        anthropic_server.key_by_raw(old).listed = True
        wall.now += EVERY
        await watch.poll_once()
        usage = watch.figures()
        assert by_start(usage)[T0 + 20 * MIN] == (41_000, 0)
        assert usage.old_after_switch == ((T0 + 20 * MIN, 41_000),)
        assert "41,000 tokens on the OLD key at 12:20 UTC" in usage_rule(usage)[0]


async def test_a_throttled_key_list_is_waited_for_as_asked(
    anthropic_server: ProviderServer,
) -> None:
    wall = Wall(T0 + 40 * MIN)
    async with watching(anthropic_server, wall) as (watch, _old):
        anthropic_server.retry_after = "300"
        anthropic_server.always("admin", 429)
        assert await watch.poll_once() == 300
        assert len(anthropic_server.hits("admin")) == 1  # NEW's lookup was not sent after it
        assert anthropic_server.hits("usage") == []
        assert "429" in watch.figures().why


async def test_a_provider_message_that_quotes_a_key_is_redacted(
    anthropic_server: ProviderServer,
) -> None:
    wall = Wall(T0 + 40 * MIN)
    async with watching(anthropic_server, wall) as (watch, old):
        anthropic_server.key_by_raw(CANARY_NEW).listed = False
        anthropic_server.usage_to = T0 + 30 * MIN
        await watch.poll_once()
        watch.lookup_errors[CANARY_NEW_FP] = f"no key shaped like {CANARY_NEW} in the list"
        watch._version += 1
        usage = watch.figures()
        assert "the NEW key's id is not known" in usage.why
        assert_no_canary(usage.why + usage_line(usage) + str(usage_json(usage)))
