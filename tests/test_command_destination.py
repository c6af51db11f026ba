"""The command destination with real child processes: the key arrives on standard input
and nowhere else (not argv, not the environment: the child reports both from /proc),
a hanging command is killed at its timeout with whatever it started, a failing one is
reported with its own words, a flood of output is read to the end and shown capped."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.support_canary import CANARIES, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_push import never, push_engine, writes
from tui.engine.destinations import Command
from tui.engine.push import push

#: The child: what it read on stdin (as a hash), its argv and environment as /proc shows them.
REPORT = """
import hashlib, json, sys
data = sys.stdin.buffer.read()
proc = {name: open(f"/proc/self/{name}", "rb").read().decode("utf-8", "replace")
        for name in ("cmdline", "environ")}
json.dump({"stdin_sha256": hashlib.sha256(data).hexdigest(), "argv": sys.argv,
           "proc": proc}, open(sys.argv[1], "w"))
print("Success! Uploaded secret ANTHROPIC_API_KEY")
"""


def python(code: str, *args: str, timeout: float = 10.0, stdin: str = "{key}") -> Command:
    return Command((sys.executable, "-c", code, *args), timeout=timeout, stdin=stdin)


async def test_the_key_goes_on_stdin_only_never_in_argv_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # keyturn's own environment holds the keys (env: references), as in a deploy pipeline.
    monkeypatch.setenv("KT_TEST_NEW", CANARY_NEW)
    monkeypatch.setenv("KT_TEST_OLD", CANARY_OLD)
    monkeypatch.setenv("KT_TEST_KEEP", "an-ordinary-value")
    report = tmp_path / "report.json"
    async with push_engine(monkeypatch, tmp_path / "state",
                           python(REPORT, str(report))) as engine:
        [result] = await push(engine, "new", never)
    assert result.ok, result.message
    assert result.message == "exit 0: Success! Uploaded secret ANTHROPIC_API_KEY"
    seen = json.loads(report.read_text())
    assert seen["stdin_sha256"] == hashlib.sha256(CANARY_NEW.encode()).hexdigest()
    assert "KT_TEST_KEEP=an-ordinary-value" in seen["proc"]["environ"]  # the rest is passed on
    assert_no_canary(json.dumps(seen), result.line, paths=[tmp_path], canaries=CANARIES)


async def test_a_template_puts_the_key_where_the_tool_expects_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    fly = python(REPORT, str(report), stdin="ANTHROPIC_API_KEY={key}")  # `fly secrets import`
    async with push_engine(monkeypatch, tmp_path / "state", fly) as engine:
        [result] = await push(engine, "new", never)
    assert result.ok
    wanted = hashlib.sha256(f"ANTHROPIC_API_KEY={CANARY_NEW}".encode()).hexdigest()
    assert json.loads(report.read_text())["stdin_sha256"] == wanted


async def test_a_hanging_command_and_what_it_started_are_killed_at_the_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    hang = ("import os, subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
            "print('Enter a secret value:', flush=True)\n"
            "time.sleep(60)\n")
    async with push_engine(monkeypatch, tmp_path / "state", python(hang, timeout=1.0)) as engine:
        started = time.monotonic()
        [result] = await push(engine, "new", never)
        took = time.monotonic() - started
    assert result.outcome == "failed"
    assert result.message == ("no answer within 1 s: killed (the key may or may not have been "
                              "set): Enter a secret value:")
    assert took < 5
    for pid in map(int, pids.read_text().split()):
        assert not alive(pid), f"process {pid} outlived its timeout"
    assert writes(tmp_path / "state")[0]["result"] == "failed"


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie is dead; only its parent has not reaped it


async def test_a_failing_command_is_reported_with_its_exit_code_and_its_own_words(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fail = ("import sys\nsys.stdin.read()\nprint('Uploading…')\n"
            "sys.stderr.write('\\x1b[31mX [ERROR] You are not logged in.\\x1b[0m\\n')\n"
            "sys.exit(3)\n")
    async with push_engine(monkeypatch, tmp_path, python(fail)) as engine:
        [result] = await push(engine, "new", never)
    assert result.outcome == "failed"
    assert result.message == "exit 3: Uploading… X [ERROR] You are not logged in."


async def test_a_flood_of_output_is_read_to_the_end_and_shown_capped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    flood = ("import sys\nsys.stdin.read()\nline = b'x' * 1023 + b'\\n'\n"
             "for _ in range(20 * 1024):\n    sys.stdout.buffer.write(line)\n"
             "print('the end: done')\n")
    async with push_engine(monkeypatch, tmp_path, python(flood)) as engine:
        [result] = await push(engine, "new", never)
    assert result.ok
    assert "printed 20,971,534 bytes" in result.message and result.message.endswith("the end: done")
    assert len(result.message) < 320


async def test_a_command_echoing_the_key_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    echo = "import sys\nprint('got', sys.stdin.read(), 'and', sys.argv[1:])\nsys.exit(1)\n"
    async with push_engine(monkeypatch, tmp_path / "state", python(echo)) as engine:
        [result] = await push(engine, "new", never)
    assert result.outcome == "failed" and result.message.startswith("exit 1: got ****")
    assert_no_canary(result.line, paths=[tmp_path / "state"], canaries=CANARIES)


async def test_a_command_that_does_not_exist_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = Command(("wrangler-not-installed-here", "secret", "put", "ANTHROPIC_API_KEY"))
    async with push_engine(monkeypatch, tmp_path, missing) as engine:
        [result] = await push(engine, "new", never)
    assert result.outcome == "failed"
    assert result.message == "command not found: wrangler-not-installed-here"


def test_the_child_environment_drops_every_variable_holding_a_key() -> None:
    from tui.engine.child_command import child_environment

    env = {"PATH": "/usr/bin", "A": CANARY_NEW, "B": f"prefix {CANARY_OLD[5:30]} suffix",
           "CLOUDFLARE_API_TOKEN": "not-a-rotation-key"}
    assert child_environment(env, [CANARY_NEW, CANARY_OLD]) == {
        "PATH": "/usr/bin", "CLOUDFLARE_API_TOKEN": "not-a-rotation-key"}
    assert os.environ  # (the real environment is never modified)
