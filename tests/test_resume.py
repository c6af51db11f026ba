"""Resume: `kill -9` a real `keyturn revoke` mid-rotation, start it again, never revoke twice.

The provider is a real HTTP server on 127.0.0.1 (a SimulatedWorld behind http.server)
that lives in the test process, so it outlives the killed keyturn and counts every
admin call across both runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers.keys import fingerprint
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_lifecycle import LoopbackProvider, canary_world, loopback_provider, write_event
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
OLD_FP, NEW_FP = fingerprint(CANARY_OLD), fingerprint(CANARY_NEW)


@pytest.fixture
def provider() -> Iterator[LoopbackProvider]:
    # The deployment serves NEW from the start; the old key is refused 1.5 s after its
    # deactivation, which leaves a window to kill keyturn while it is verifying.
    world = canary_world(switch_at=0.0, window=0.0, revoke_delay=1.5)
    with loopback_provider(world) as server:
        yield server


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "keyturn.toml"
    path.write_text(f"""
state_dir = "{tmp_path / 'state'}"

[defaults]
interval = 0.2
timeout = 0.15
streak = 3
samples = 1          # one deployment answer a tick, the bound off: this is about resuming
max_old_share = 1.0

[rotations.live]
provider = "anthropic"
old = "env:KT_OLD"
new = "env:KT_NEW"
admin = "env:KT_ADMIN"
base_url = "{url}"
deployment = "{url}/health/probe"
rotate_every = "90d"
""")
    return path


class Run:
    """One `keyturn revoke live --yes` subprocess with its output in files."""

    def __init__(self, tmp_path: Path, config: Path, name: str) -> None:
        env = dict(os.environ, KT_OLD=CANARY_OLD, KT_NEW=CANARY_NEW, KT_ADMIN=CANARY_ADMIN,
                   PYTHONUNBUFFERED="1")
        env.pop("KEYTURN_STATE_DIR", None)
        self.out_path = tmp_path / f"{name}.out"
        self.err_path = tmp_path / f"{name}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tui.cli", "--config", str(config), "revoke", "live",
                 "--yes", "--timeout", "30"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def wait(self) -> int:
        return self.proc.wait(60)

    @property
    def out(self) -> str:
        return self.out_path.read_text(encoding="utf-8")

    @property
    def err(self) -> str:
        return self.err_path.read_text(encoding="utf-8")


def log_lines(state: Path) -> list[dict]:
    """Every line of the audit log parses; only a torn last line may not (then skipped)."""
    data = (state / "audit.jsonl").read_bytes()
    raw = data.split(b"\n")
    tail = raw.pop()  # after the last newline: empty unless the last write was torn
    records = [json.loads(line) for line in raw if line.strip()]
    if tail:
        with pytest.raises(ValueError):
            json.loads(tail)
    return records


def events(state: Path) -> list[str]:
    return [r["event"] for r in log_lines(state)]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def logged(state: Path, event: str) -> Callable[[], bool]:
    path = state / "audit.jsonl"
    return lambda: path.exists() and f'"event": "{event}"' in path.read_text(encoding="utf-8")


def finish_second_run(tmp_path: Path, config: Path, provider: LoopbackProvider) -> Run:
    admin_calls_before = list(provider.world.admin_calls)
    second = Run(tmp_path, config, "second")
    assert second.wait() == 0, second.out + second.err
    # No second revoke from the second run: at most it read the key list (the key's status).
    assert all(c.method == "GET" for c in provider.world.admin_calls[len(admin_calls_before):])
    assert provider.posts() == ["inactive"]
    return second


def assert_finished_and_clean(tmp_path: Path, runs: list[Run]) -> Path:
    state = tmp_path / "state"
    trail = events(state)
    assert trail.count("revoke_requested") == 1
    assert trail[-2:] == ["done", "slots_promoted"] or trail[-1] == "done"
    reports = sorted(state.glob("report-live-*.md"))
    assert len(reports) == 1
    report = reports[0].read_text(encoding="utf-8")
    assert f"`{OLD_FP}`" in report and f"`{NEW_FP}`" in report
    assert sum(f"report: {reports[0]}" in r.out for r in runs) == 1
    assert_no_canary(*(r.out for r in runs), *(r.err for r in runs), paths=[state])
    return reports[0]


def test_killed_while_the_revoke_call_is_in_flight_resumes_verifying(
    tmp_path: Path, provider: LoopbackProvider
) -> None:
    config = write_config(tmp_path, provider.url)
    state = tmp_path / "state"
    provider.hold_admin_post = True  # the provider applies the revoke, keyturn never hears back
    first = Run(tmp_path, config, "first")
    assert provider.admin_post_seen.wait(30), first.out + first.err
    first.kill9()
    # The intent was written before the call went out: the log names the key id.
    assert events(state)[-2:] == ["key_lookup", "deactivating"]
    provider.hold_admin_post = False
    provider.release.set()

    second = finish_second_run(tmp_path, config, provider)
    assert "resumed from the audit log" in second.out
    assert "phase: verifying" in second.out
    # It asked the provider, which lists the key inactive: verifying, with no second call.
    resumed = [r for r in log_lines(state) if r["event"] == "resumed"]
    assert [(r["phase"], r["old"]) for r in resumed] == [("checking", OLD_FP)]
    (confirmed,) = [r for r in log_lines(state) if r["event"] == "revoke_confirmed"]
    assert "inactive" in confirmed["reconciled"]
    report = assert_finished_and_clean(tmp_path, [first, second])
    assert "resumed" in report.read_text(encoding="utf-8")


def test_killed_while_verifying_resumes_verifying_with_the_key_id(
    tmp_path: Path, provider: LoopbackProvider
) -> None:
    config = write_config(tmp_path, provider.url)
    state = tmp_path / "state"
    first = Run(tmp_path, config, "first")
    wait_until(logged(state, "revoke_confirmed"), "the provider's revoke receipt in the log")
    first.kill9()
    trail = events(state)
    assert trail[-1] == "revoke_confirmed" and "done" not in trail

    second = finish_second_run(tmp_path, config, provider)
    assert "resumed from the audit log" in second.out
    (resumed,) = [r for r in log_lines(state) if r["event"] == "resumed"]
    assert resumed["key_id"] == provider.world.keys[CANARY_OLD].id
    report = assert_finished_and_clean(tmp_path, [first, second]).read_text(encoding="utf-8")
    (post,) = provider.world.revoke_calls()
    assert post.request_id in report


def test_killed_before_revoke_starts_over_and_revokes_once(tmp_path: Path) -> None:
    # The deployment keeps the old key for 3 s: keyturn is killed while propagating.
    world = canary_world(switch_at=3.0, window=0.0, revoke_delay=0.2)
    with loopback_provider(world) as provider:
        config = write_config(tmp_path, provider.url)
        state = tmp_path / "state"
        first = Run(tmp_path, config, "first")
        wait_until(logged(state, "new_key_live"), "the new key seen live")
        first.kill9()
        assert "revoke_requested" not in events(state)

        second = Run(tmp_path, config, "second")
        assert second.wait() == 0, second.out + second.err
        assert "resuming" not in second.out
        assert provider.posts() == ["inactive"]
        assert_finished_and_clean(tmp_path, [first, second])


def test_run_after_done_does_nothing_and_exits_0(tmp_path: Path, provider: LoopbackProvider) -> None:
    config = write_config(tmp_path, provider.url)
    first = Run(tmp_path, config, "first")
    assert first.wait() == 0, first.out + first.err
    second = finish_second_run(tmp_path, config, provider)
    assert "already revoked and confirmed dead" in second.out
    assert "update your references" in second.out and "env:KT_OLD" in second.out
    assert_finished_and_clean(tmp_path, [first, second])


def test_watch_after_a_crash_watches_the_verification_not_the_gate(
    tmp_path: Path, provider: LoopbackProvider, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var, raw in (("KT_OLD", CANARY_OLD), ("KT_NEW", CANARY_NEW), ("KT_ADMIN", CANARY_ADMIN)):
        monkeypatch.setenv(var, raw)
    config = write_config(tmp_path, provider.url)
    key_id = provider.world.keys[CANARY_OLD].id
    provider.world.set_status(key_id, "inactive")  # the crashed run's revoke went through
    state = tmp_path / "state"
    write_event(state, datetime.now(UTC), "live", "revoke_requested", old=OLD_FP, method="admin")
    write_event(state, datetime.now(UTC), "live", "revoke_confirmed", old=OLD_FP, key_id=key_id)
    assert main(["--config", str(config), "watch", "live", "--headless", "--timeout", "20"]) == 0
    out = capsys.readouterr().out
    assert "now verifying" in out and "Revoke unlocked" not in out
    assert "phase: done" in out and "report: " in out
    assert provider.world.revoke_calls() == []  # reads only (the usage report's key lookups)
    assert_no_canary(out, paths=[state])
