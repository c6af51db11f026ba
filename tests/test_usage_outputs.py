"""The provider's count where people and pipelines read it: `probe --json` and its table,
`watch --headless` lines, `revoke --ignore-usage`, the `drain` config key and the
Markdown report. Every command run is searched for the canary keys (tests/support_cli.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from providers.usage import rfc3339
from tests.provider_server import ANTHROPIC, OPENAI, ProviderServer
from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    CANARY_OPENAI,
    assert_no_canary,
)
from tests.support_cli import ONE_LOOK, Keyturn
from tests.support_engine import make_rig
from tui.engine import report
from tui.engine.audit import AuditLog
from tui.engine.config import ConfigError
from tui.engine.config_file import validate
from tui.engine.rotation import Phase

pytest_plugins = ["tests.server_fixtures"]


@pytest.fixture
def kt(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> Keyturn:
    return Keyturn(isolated_home, capsys=capsys)


def rotation(server: ProviderServer, kt: Keyturn, **extra: object) -> str:
    old = CANARY_OLD if server.flavour == ANTHROPIC else CANARY_OPENAI
    server.add_key(old)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    server.serving = CANARY_NEW
    kt.write_config(server, old=old, new=CANARY_NEW, admin=CANARY_ADMIN, **extra)
    return old


def test_probe_json_carries_the_providers_count(server: ProviderServer, kt: Keyturn) -> None:
    old = rotation(server, kt, **ONE_LOOK)
    minute = int(time.time()) // 60 * 60
    server.count(old, minute - 20 * 60, requests=41, tokens=41_000)
    server.count(CANARY_NEW, minute - 12 * 60, requests=7, tokens=700)
    result = kt.main("probe", "svc", "--json")
    assert result.code == 0, result.err
    usage = json.loads(result.out)["usage"]
    openai = server.flavour == OPENAI
    assert usage["state"] == "ok" and usage["unit"] == ("requests" if openai else "tokens")
    assert usage["old_key_id"] == server.key_by_raw(old).id
    assert usage["new_key_id"] == server.key_by_raw(CANARY_NEW).id
    minutes = {m["start"]: (m["old"], m["new"]) for m in usage["minutes"]}
    assert minutes[rfc3339(minute - 20 * 60)] == ((41 if openai else 41_000), 0)
    assert minutes[rfc3339(minute - 12 * 60)] == (0, (7 if openai else 700))
    assert usage["old_last_used"] == rfc3339(minute - 20 * 60)
    # Counted to five minutes ago at most; the minutes after are null, not zero.
    assert usage["report_to"] in (rfc3339(minute - 300), rfc3339(minute - 240))
    assert minutes[rfc3339(minute - 60)] == (None, None)


def test_a_failing_report_is_shown_and_touches_no_probe(
    anthropic_server: ProviderServer, kt: Keyturn
) -> None:
    rotation(anthropic_server, kt, **ONE_LOOK)
    anthropic_server.always("usage", 500)
    result = kt.main("probe", "svc", "--json")
    assert result.code == 0, result.err  # the probes decide the exit code, as before
    doc = json.loads(result.out)
    assert [t["verdict"] for t in doc["targets"]] == ["live", "live", "live"]
    assert doc["usage"]["state"] == "unavailable" and "(500)" in doc["usage"]["detail"]
    table = kt.main("probe", "svc")
    assert "usage report unavailable (admin API refused GET (500)" in table.out


def test_drain_locks_revoke_on_the_command_line_until_ignore_usage(
    anthropic_server: ProviderServer, kt: Keyturn
) -> None:
    rotation(anthropic_server, kt, drain="10m")
    watched = kt.main("watch", "svc", "--headless", "--timeout", "1.5")
    assert watched.code == 1
    assert "drain 10 min: waiting for the provider's report to count 10 min after the switch" \
        in watched.out
    usage_lines = [line for line in watched.out.splitlines() if "  usage  " in line]
    assert usage_lines and "tokens a minute, report to" in usage_lines[0]
    assert "· Revoke locked: drain 10 min" in usage_lines[0]  # said with the figures
    refused = kt.main("revoke", "svc", "--yes", "--timeout", "1.5")
    assert refused.code == 1 and "drain 10 min" in refused.err
    assert anthropic_server.admin_writes() == []
    done = kt.main("revoke", "svc", "--yes", "--ignore-usage", "--timeout", "15")
    assert done.code == 0, done.out + done.err
    assert "the provider's count is set aside (--ignore-usage)" in done.out
    assert len(anthropic_server.admin_writes()) == 1
    (override,) = [e for e in AuditLog(kt.state_dir).events() if e["event"] == "usage_override"]
    assert override["detail"].startswith("set aside by --ignore-usage: ")


def test_drain_is_checked_in_the_config(tmp_path: Path) -> None:
    table = {"provider": "anthropic", "old": "env:A", "new": "env:B"}
    config = validate({"rotations": {"svc": {**table, "drain": "10m"}}}, tmp_path / "k.toml")
    assert config.rotations["svc"].drain_seconds == 600
    for bad in ("10", "10s", "0m", "25h", "ten minutes"):
        with pytest.raises(ConfigError, match=r"rotations\.svc\.drain: must be a duration"):
            validate({"rotations": {"svc": {**table, "drain": bad}}}, tmp_path / "k.toml")


async def rotated(tmp_path: Path):
    """A demo rig, rotated to DONE through the admin API, writing its audit log to tmp_path."""
    rig = make_rig(streak=3)
    rig.engine.audit = AuditLog(tmp_path)
    rig.engine.start()
    assert await rig.run_until(lambda: rig.engine.can_revoke)
    await rig.engine.revoke()
    assert await rig.run_until(lambda: rig.engine.phase is Phase.DONE)
    return rig


async def test_the_report_gives_old_last_counted_minute_and_new_since_the_switch(
    tmp_path: Path,
) -> None:
    rig = await rotated(tmp_path)
    try:
        await rig.run(20.0)  # the report goes on being read after the revoke
        usage = rig.engine.usage
        path = report.write_report(tmp_path, rig.engine.rotation.name, rig.engine)
    finally:
        await rig.close()
    text = path.read_text()
    assert "tokens per minute, by key id): report read to" in text
    last = time.strftime("%H:%M", time.gmtime(usage.old_last_used))
    assert f"- OLD key last counted: the minute of {last} UTC (" in text
    switch = time.strftime("%H:%M", time.gmtime(usage.switch_at))
    assert f"- NEW key since the switch ({switch} UTC): {usage.new_since_switch:,} tokens " \
           "counted" in text
    assert usage.new_since_switch > 0 and usage.old_last_used <= usage.switch_at
    assert_no_canary(text, canaries=(rig.world.old, rig.world.new, rig.world.admin_key))


async def test_a_report_written_early_says_what_is_not_counted_yet(
    tmp_path: Path,
) -> None:
    """The rotation is done minutes before the provider's report reaches the switch: the
    report says NEW's count is not in yet, and does not leave the line out."""
    rig = await rotated(tmp_path)
    try:
        usage = rig.engine.usage
        # An earlier run of this rotation (this one resumed it) had set the count aside.
        old, new = rig.engine.fingerprints
        rig.engine.audit.append(rig.engine.rotation.name, "usage_override", old=old, new=new,
                                via="--ignore-usage", detail="set aside by --ignore-usage")
        path = report.write_report(tmp_path, rig.engine.rotation.name, rig.engine)
    finally:
        await rig.close()
    assert "- the usage rule was set aside (--ignore-usage)" in path.read_text()
    assert usage.new_since_switch is None and usage.covered_to < usage.switch_at
    switch = time.strftime("%H:%M", time.gmtime(usage.switch_at))
    reached = time.strftime("%H:%M", time.gmtime(usage.covered_to))
    assert (f"- NEW key since the switch ({switch} UTC): not counted yet (the report reached "
            f"{reached} UTC)") in path.read_text()
