"""After a rotation, with every kind of reference: `status` does not call a revoked key
healthy, and the report and the `done` event agree. Also the post-deploy check
(`probe --expect`) and JSON lines of a run, through the CLI against the loopback provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.provider_server import ProviderServer, fingerprint
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_cli import ONE_LOOK, Keyturn
from tui.cli import main

pytest_plugins = ["tests.server_fixtures"]

OLD_FP, NEW_FP = fingerprint(CANARY_OLD), fingerprint(CANARY_NEW)


@pytest.fixture
def kt(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Keyturn:
    monkeypatch.setenv("NO_COLOR", "1")
    return Keyturn(isolated_home)


def world(server: ProviderServer, kt: Keyturn, monkeypatch, *, serving: str = CANARY_NEW,
          **extra: object) -> None:
    server.add_key(CANARY_OLD)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    server.serving = serving
    kt.write_config(server, old=CANARY_OLD, new=CANARY_NEW, admin=CANARY_ADMIN, **extra)
    for var, raw in kt.keys.items():
        monkeypatch.setenv(var, raw)


def cli(kt: Keyturn, capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(kt.config), *argv])
    out, err = capsys.readouterr()
    assert_no_canary(out, err, paths=kt.written())
    return code, out, err


def test_status_after_an_env_rotation_asks_for_the_references_to_be_updated(
    anthropic_server: ProviderServer, kt: Keyturn, capsys, monkeypatch
) -> None:
    world(anthropic_server, kt, monkeypatch, rotate_every="90d")
    code, out, err = cli(kt, capsys, "revoke", "svc", "--yes", "--timeout", "15")
    assert code == 0, out + err
    assert "update your references: `old` (env:KT_TEST_OLD) must now hold the new key" in out

    # The env vars still hold the revoked key as OLD: that is not `ok`.
    code, out, _ = cli(kt, capsys, "status")
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("svc "))
    assert OLD_FP in row and row.rstrip().endswith("update refs")
    assert (f"svc  `old` (env:KT_TEST_OLD) still holds the revoked key {OLD_FP}; put the key "
            f"in service ({NEW_FP}, now at env:KT_TEST_NEW) there") in out
    code, out, _ = cli(kt, capsys, "status", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["stale"] == ["svc"] and doc["rotations"][0]["state"] == "update refs"

    # Once the user moved the keys, status is content again.
    monkeypatch.setenv("KT_TEST_OLD", CANARY_NEW)
    monkeypatch.delenv("KT_TEST_NEW")
    code, out, _ = cli(kt, capsys, "status")
    assert code == 0, out
    assert next(line for line in out.splitlines() if line.startswith("svc ")).endswith(" ok")

    # The report and the done event count the same probes.
    done = [json.loads(line) for line in (kt.state_dir / "audit.jsonl").read_text().splitlines()
            if '"done"' in line][-1]
    (report,) = kt.state_dir.glob("report-svc-*.md")
    assert f"- probes made: {done['probes']} (" in report.read_text()


def test_probe_expect_new_is_a_post_deploy_check(anthropic_server: ProviderServer, kt: Keyturn,
                                                 capsys, monkeypatch) -> None:
    world(anthropic_server, kt, monkeypatch, serving=CANARY_OLD, **ONE_LOOK)
    code, out, _ = cli(kt, capsys, "probe", "svc")
    assert code == 0  # every target answers: healthy, but not rotated yet
    code, out, _ = cli(kt, capsys, "probe", "svc", "--expect", "new")
    assert code == 1
    assert "expect      not met: expected the NEW key, the deployment serves the OLD key" in out
    assert cli(kt, capsys, "probe", "svc", "--expect", "old")[0] == 0

    anthropic_server.serving = CANARY_NEW  # deployed
    code, out, _ = cli(kt, capsys, "probe", "svc", "--expect", "new", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["exit_code"] == 0
    assert doc["expect"] == {"key": "new", "met": True,
                             "reason": f"met: the deployment answers live on the NEW key ({NEW_FP})"}
    assert cli(kt, capsys, "probe", "svc", "--expect", "old")[0] == 1


def test_probe_expect_says_when_the_deployment_did_not_answer(
    anthropic_server: ProviderServer, kt: Keyturn, capsys, monkeypatch
) -> None:
    world(anthropic_server, kt, monkeypatch, **ONE_LOOK)
    anthropic_server.always("deployment", "close")
    code, out, _ = cli(kt, capsys, "probe", "svc", "--expect", "new")
    assert code == 1
    flat = " ".join(out.split())
    assert (f"not met: the deployment did not answer (connection closed mid-answer by "
            f"127.0.0.1:{anthropic_server.port})") in flat
    assert "deployment did not answer" in flat and "does not report which key" not in flat


def test_the_gate_says_a_deployment_answered_without_its_key(
    anthropic_server: ProviderServer, kt: Keyturn, capsys, monkeypatch
) -> None:
    world(anthropic_server, kt, monkeypatch, **ONE_LOOK)
    anthropic_server.deployment_reports_fingerprint = False
    code, out, _ = cli(kt, capsys, "probe", "svc")
    assert code == 0  # the deployment is healthy, it only does not say which key it holds
    assert "gate        new key 1/2 live; deployment does not report which key it serves" in out
    assert "did not answer" not in out


def test_probe_expect_without_a_deployment_is_a_usage_error(
    anthropic_server: ProviderServer, kt: Keyturn, capsys, monkeypatch
) -> None:
    world(anthropic_server, kt, monkeypatch)
    kt.write_config(anthropic_server, old=CANARY_OLD, new=CANARY_NEW, deployment=False)
    code, _, err = cli(kt, capsys, "probe", "svc", "--expect", "new")
    assert code == 2 and "the rotation has no deployment" in err


@pytest.mark.parametrize("command", [["watch", "svc", "--headless", "--timeout", "15"],
                                     ["revoke", "svc", "--yes", "--timeout", "15"]])
def test_json_lines_one_object_per_event(anthropic_server: ProviderServer, kt: Keyturn, capsys,
                                         monkeypatch, command: list[str]) -> None:
    world(anthropic_server, kt, monkeypatch)
    code, out, _ = cli(kt, capsys, *command, "--json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]  # every line is one object
    kinds = {event["type"] for event in events}
    assert {"probe", "phase", "end"} <= kinds
    probe = next(e for e in events if e["type"] == "probe" and e["role"] == "deployment")
    assert set(probe) >= {"time", "role", "verdict", "status", "latency_ms", "streak", "need",
                          "serving", "detail"}
    assert events[-1]["type"] == "end" and events[-1]["exit_code"] == 0
    assert events[-1]["ending"] == ("watched" if command[0] == "watch" else "done")
    if command[0] == "revoke":
        assert any(e["type"] == "phase" and e["phase"] == "done" for e in events)


def fake_notify_send(tmp_path: Path, monkeypatch) -> Path:
    """A notify-send on PATH that writes down what it was asked to show."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "notified.txt"
    script = bin_dir / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> "{seen}"\necho >> "{seen}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("KEYTURN_NO_NOTIFY", raising=False)
    return seen


def test_headless_rings_and_notifies_when_revoke_unlocks_only_on_a_terminal(
    anthropic_server: ProviderServer, kt: Keyturn, capsys, monkeypatch, tmp_path: Path
) -> None:
    from tui import notify

    world(anthropic_server, kt, monkeypatch)
    seen = fake_notify_send(tmp_path, monkeypatch)
    code, out, _ = cli(kt, capsys, "watch", "svc", "--headless", "--timeout", "15")
    assert code == 0 and "\a" not in out and not seen.exists()  # piped: no bell, no popup

    monkeypatch.setattr("tui.cli.common.on_terminal", lambda: True)
    code, out, _ = cli(kt, capsys, "watch", "svc", "--headless", "--timeout", "15")
    assert code == 0 and out.count("\a") == 1
    for child in notify.spawned:
        child.wait(10)
    assert seen.read_text().startswith("--app-name=keyturn|keyturn: svc: Revoke unlocked|")


def test_tables_fit_the_terminal_without_breaking_a_word(anthropic_server: ProviderServer,
                                                         kt: Keyturn, capsys, monkeypatch):
    world(anthropic_server, kt, monkeypatch)
    anthropic_server.always("deployment", "close")  # a long detail naming the host
    monkeypatch.setattr("tui.cli.table.terminal_width", lambda: 64)
    code, out, _ = cli(kt, capsys, "probe", "svc")
    assert code == 3  # only the deployment's silence: indeterminate
    lines = out.splitlines()
    assert max(len(line) for line in lines[1:]) <= 64
    words = set(out.split())
    detail = f"connection closed mid-answer by 127.0.0.1:{anthropic_server.port}"
    assert set(detail.split()) <= words  # every word whole, wherever the lines wrapped
    assert any(line.startswith("deployment  unreachable") for line in lines)
    # Piped (no terminal): nothing wraps, one line per note.
    monkeypatch.setattr("tui.cli.table.terminal_width", lambda: None)
    _, out, _ = cli(kt, capsys, "probe", "svc")
    assert any(detail in line for line in out.splitlines())
