"""The wrong key, twice, or never: every path to a bad revoke, against a loopback
provider that misbehaves (real HTTP, the engine's real revoke and resume).

Each test counts the admin writes the server received: exactly one deactivation, of the
old key, or none at all.
"""

from __future__ import annotations

import asyncio
import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest

from providers.errors import AdminError
from tests.provider_server import ANTHROPIC, OPENAI, ProviderServer
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_server import engine_on
from tui.engine import audit as audit_module
from tui.engine import lifecycle
from tui.engine.admin_revoke import resume_unanswered
from tui.engine.audit import AuditLog
from tui.engine.lock import RotationBusy, RotationLock
from tui.engine.rotation import Phase
from tui.engine.run import Ending, RotationRun

pytest_plugins = ["tests.server_fixtures"]

FAST = {"interval": 0.05, "timeout": 1.0, "streak": 2}


def world(server: ProviderServer) -> None:
    server.add_key(CANARY_OLD)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    server.serving = CANARY_NEW


def writes(server: ProviderServer) -> list[str]:
    return [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in server.admin_writes()]


def trail(log: AuditLog) -> list[str]:
    return [e["event"] for e in log.events()]


class Yes:
    """A person who says yes to the revoke and to nothing else."""

    async def revoke(self, engine) -> bool:
        return True

    async def console_done(self, engine, steps: str) -> bool:
        return False

    async def reactivate(self, engine, alarm: str) -> bool:
        return False


# -- only the old key ---------------------------------------------------------------------


async def test_a_hint_with_nothing_after_the_kind_is_never_taken_for_the_old_key(
    anthropic_server: ProviderServer, tmp_path: Path
) -> None:
    """The list holds an unrelated key whose hint is `sk-ant-api03-...` and no record of
    the old key: an empty tail used to match anything, and that key was deactivated."""
    server = anthropic_server
    world(server)
    server.key_by_raw(CANARY_OLD).listed = False
    bystander = server.add_key("sk-ant-api03-" + "b" * 86 + "ZZ")
    bystander.shown_hint = "sk-ant-api03-..."
    log = AuditLog(tmp_path)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN, audit=log,
                         **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke)
        with pytest.raises(AdminError) as refused:
            await run.engine.revoke()
    assert writes(server) == []
    assert bystander.status == "active"
    # It says what it saw: how many keys, and that a hint was too short to tell.
    assert "no active key fits old key" in str(refused.value)
    assert "too short to tell keys apart" in str(refused.value)
    assert trail(log)[-3:] == ["revoke_requested", "key_lookup", "revoke_failed"]


async def test_a_hint_that_fits_the_new_key_too_is_refused(
    anthropic_server: ProviderServer, tmp_path: Path
) -> None:
    server = anthropic_server
    new = CANARY_NEW[:-4] + CANARY_OLD[-4:]  # a new key that ends as the old one does
    server.add_key(CANARY_OLD)
    server.add_key(new).listed = False
    server.admin_key = CANARY_ADMIN
    server.serving = new
    # The list shows the old key by the part both keys share: it fits OLD and NEW alike.
    server.key_by_raw(CANARY_OLD).shown_hint = CANARY_OLD[:16] + "..." + CANARY_OLD[-4:]
    assert new.startswith(CANARY_OLD[:16])
    async with engine_on(server, CANARY_OLD, new, admin=CANARY_ADMIN,
                         audit=AuditLog(tmp_path), **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke)
        with pytest.raises(AdminError, match="fits both the old key"):
            await run.engine.revoke()
    assert writes(server) == []


async def test_a_list_that_ignores_status_active_never_gets_a_second_deactivation(
    anthropic_server: ProviderServer, tmp_path: Path
) -> None:
    server = anthropic_server
    world(server)
    server.ignore_status_filter = True
    server.key_by_raw(CANARY_OLD).status = "inactive"  # an earlier run deactivated it
    log = AuditLog(tmp_path)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN, audit=log,
                         **FAST) as run:
        # The provider still answers the old key while the deactivation propagates.
        server.key_by_raw(CANARY_OLD).status = "active"
        assert await run.until(lambda: run.engine.can_revoke)
        server.key_by_raw(CANARY_OLD).status = "inactive"
        receipt = await run.engine.revoke()
        assert receipt is None and run.engine.phase is Phase.VERIFYING
        assert await run.until(lambda: run.engine.phase is Phase.DONE)
    assert writes(server) == []
    (confirmed,) = [e for e in log.events() if e["event"] == "revoke_confirmed"]
    assert "already" in confirmed["reconciled"]


# -- only once ------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", [ANTHROPIC, OPENAI])
async def test_an_answer_lost_after_the_provider_applied_it_is_settled_by_reading_the_status(
    flavour: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(f"{flavour}_server")
    world(server)
    old = CANARY_OLD
    log = AuditLog(tmp_path)
    async with engine_on(server, old, CANARY_NEW, admin=CANARY_ADMIN, audit=log, **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke)
        # The provider deactivates the key, then the answer never arrives.
        server.script("admin", None, "apply_then_drop")
        await run.engine.revoke()
        assert run.engine.phase is Phase.VERIFYING
        assert await run.until(lambda: run.engine.phase is Phase.DONE)
    assert len(server.admin_writes()) == 1
    events = trail(log)
    assert events.index("deactivating") < events.index("revoke_unknown") < events.index(
        "revoke_confirmed")
    assert "failure" not in events


async def test_a_crash_while_looking_the_key_up_lets_the_next_run_send_it_once(
    anthropic_server: ProviderServer, tmp_path: Path
) -> None:
    """The log says `key_lookup` and nothing after it: the call never went out. The next
    run asks the provider (still active), goes back to the gate, and revokes once."""
    server = anthropic_server
    world(server)
    log = AuditLog(tmp_path)
    from tests.support_server import rotation_for

    name = rotation_for(server).name
    old_fp, new_fp = fingerprint(CANARY_OLD), fingerprint(CANARY_NEW)
    log.append(name, "revoke_requested", old=old_fp, new=new_fp, method="admin")
    log.append(name, "key_lookup", old=old_fp)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN, audit=log,
                         **FAST) as run:
        point = lifecycle.resume(run.engine, log)
        assert point is not None and point.sent == "no"
        assert await resume_unanswered(run.engine, point) == "not-sent"
        assert writes(server) == []
        assert await run.until(lambda: run.engine.can_revoke)
        await run.engine.revoke()
        assert await run.until(lambda: run.engine.phase is Phase.DONE)
    assert len(server.admin_writes()) == 1


async def test_an_intent_without_an_answer_and_an_active_key_stops_for_the_console(
    anthropic_server: ProviderServer, tmp_path: Path
) -> None:
    """`deactivating` logged, no answer, and the provider lists the key active: keyturn
    cannot know whether its call is still in flight, so it never sends it again."""
    server = anthropic_server
    world(server)
    log = AuditLog(tmp_path)
    from tests.support_server import rotation_for

    name = rotation_for(server).name
    key_id = server.key_by_raw(CANARY_OLD).id
    old_fp = fingerprint(CANARY_OLD)
    log.append(name, "revoke_requested", old=old_fp, new=fingerprint(CANARY_NEW), method="admin")
    log.append(name, "key_lookup", old=old_fp)
    log.append(name, "deactivating", old=old_fp, key_id=key_id)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN, audit=log,
                         **FAST) as run:
        point = lifecycle.resume(run.engine, log)
        assert await resume_unanswered(run.engine, point) == "check"
        assert run.engine.phase is Phase.REVOKING and run.engine.awaiting_console
        said = [getattr(e, "text", "") for e in run.events]
        assert any("will not send the call again" in t and "active" in t for t in said)
        assert not run.engine.can_revoke
    assert writes(server) == []


def fingerprint(raw: str) -> str:
    from providers.keys import fingerprint as fp

    return fp(raw)


# -- one run per rotation ----------------------------------------------------------------


async def test_many_pairs_of_revokes_at_once_make_exactly_one_deactivation_each(
    anthropic_server: ProviderServer, tmp_path: Path
) -> None:
    """Two runs of one rotation started together, eight times over: in every pair one
    revokes, the other is told who holds the rotation and sends nothing."""
    server = anthropic_server
    server.admin_key = CANARY_ADMIN
    server.serving = CANARY_NEW
    server.add_key(CANARY_NEW)
    for pair in range(8):
        server.keys.pop(CANARY_OLD, None)
        server.add_key(CANARY_OLD)
        before = len(server.admin_writes())
        state = tmp_path / f"state{pair}"

        async def one_run(state: Path = state) -> Ending | str:
            log = AuditLog(state)
            async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN, audit=log,
                                 **FAST) as run:
                lock = RotationLock(state, run.engine.rotation.name)
                rotation_run = RotationRun(run.engine, Yes(), lambda line: None, lock=lock)
                try:
                    return (await rotation_run.rotate(10)).ending
                except RotationBusy as exc:
                    return str(exc)
                finally:
                    rotation_run.close()

        first, second = await asyncio.gather(one_run(), one_run())
        outcomes = sorted([first, second], key=str)
        assert len(server.admin_writes()) - before == 1, (pair, outcomes)
        assert Ending.DONE in outcomes, outcomes
        (busy,) = [o for o in outcomes if isinstance(o, str) and not isinstance(o, Ending)]
        assert "in use by another keyturn run" in busy and "pid" in busy


def test_a_second_process_says_who_holds_the_rotation_and_exits_1(tmp_path: Path) -> None:
    lock = RotationLock(tmp_path, "svc")
    lock.acquire()
    try:
        code = (
            "import sys\nfrom tui.engine.lock import RotationLock, RotationBusy\n"
            f"try:\n    RotationLock({str(tmp_path)!r}, 'svc').acquire()\n"
            "except RotationBusy as exc:\n    print(exc)\n    sys.exit(1)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 1
        assert "in use by another keyturn run" in out.stdout
        assert "pid" in out.stdout
    finally:
        lock.release()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    code = (
        "import os, sys\nfrom tui.engine.lock import RotationLock\n"
        f"RotationLock({str(tmp_path)!r}, 'svc').acquire()\nprint('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RotationBusy):
            RotationLock(tmp_path, "svc").acquire()
        holder.kill()
        holder.wait()
    finally:
        if holder.poll() is None:
            holder.kill()
    lock = RotationLock(tmp_path, "svc")
    lock.acquire()  # the file is still there, with the dead holder's name: not in the way
    assert lock.held
    lock.release()


# -- a write that fails is loud -------------------------------------------------------------


def fail_writes(monkeypatch: pytest.MonkeyPatch, after: str) -> None:
    """The disk fills up: every append from the event `after` on fails with ENOSPC."""
    real = AuditLog._write
    full = {"on": False}

    def write(self: AuditLog, data: bytes) -> None:
        if json.loads(data)["event"] == after:
            full["on"] = True
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, data)

    monkeypatch.setattr(audit_module.AuditLog, "_write", write)


async def test_a_full_disk_at_the_admin_answer_says_the_key_was_revoked(
    anthropic_server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = anthropic_server
    world(server)
    fail_writes(monkeypatch, after="revoke_confirmed")
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN,
                         audit=AuditLog(tmp_path), **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke)
        outcome = await RotationRun(run.engine, Yes(), lambda line: None).rotate(10)
    assert outcome.ending is Ending.ALARM
    assert "WAS revoked at the provider" in outcome.message
    assert "No space left on device" in outcome.message
    assert run.engine.phase is Phase.FAILED
    assert len(server.admin_writes()) == 1


async def test_a_full_disk_before_the_admin_call_sends_nothing_and_says_so(
    anthropic_server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = anthropic_server
    world(server)
    fail_writes(monkeypatch, after="deactivating")
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN,
                         audit=AuditLog(tmp_path), **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke)
        outcome = await RotationRun(run.engine, Yes(), lambda line: None).rotate(10)
    assert outcome.ending is Ending.ALARM
    assert "was NOT revoked: nothing was sent" in outcome.message
    assert writes(server) == []


async def test_a_full_disk_never_hides_a_deployment_alarm(
    anthropic_server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployment breaks on the revoked key while nothing can be written: the alarm
    still reaches the run (and the person), with the log's failure beside it."""
    server = anthropic_server
    world(server)
    server.serving = CANARY_NEW
    fail_writes(monkeypatch, after="deployment_alarm")
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN,
                         audit=AuditLog(tmp_path), **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke)
        await run.engine.revoke()
        server.serving = CANARY_OLD  # the deployment falls back to the revoked key
        outcome = await RotationRun(run.engine, Yes(), lambda line: None).verify(10)
    assert outcome.ending is Ending.ALARM
    assert "deployment" in outcome.message
    assert "the audit log could not be written" in outcome.message
    assert_no_canary(outcome.message)


def test_the_cli_says_the_key_was_revoked_when_the_log_fills_up(
    anthropic_server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through `keyturn revoke`: exit 1 with the words, never exit 4."""
    from tests.support_cli import Keyturn
    from tui import cli

    server = anthropic_server
    world(server)
    kt = Keyturn(tmp_path)
    kt.write_config(server, old=CANARY_OLD, new=CANARY_NEW, admin=CANARY_ADMIN,
                    interval=0.2, timeout=0.15, streak=2)
    for var, raw in kt.keys.items():
        monkeypatch.setenv(var, raw)
    fail_writes(monkeypatch, after="revoke_confirmed")
    code = cli.main(["--config", str(kt.config), "revoke", "svc", "--yes", "--timeout", "20"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "WAS revoked at the provider" in captured.err
    assert "internal error" not in captured.err
    assert_no_canary(captured.out, captured.err)
