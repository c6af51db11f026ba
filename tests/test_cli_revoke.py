"""`keyturn revoke ROTATION` against the loopback provider, through `tui.cli.main` in the
test's process; on a terminal (a pseudo-terminal) as a real subprocess.

The admin API is the dangerous part of keyturn: these tests count every admin request
the server received and when, and search every run's output and files for the canary keys.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pytest

from tests.provider_server import ANTHROPIC, ProviderServer, fingerprint
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, CANARY_OPENAI
from tests.support_cli import Keyturn, Result, in_process

pytest_plugins = ["tests.server_fixtures"]


@pytest.fixture
def kt(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> Keyturn:
    return Keyturn(isolated_home, capsys=capsys)


def old_key(server: ProviderServer) -> str:
    return CANARY_OLD if server.flavour == ANTHROPIC else CANARY_OPENAI


def rotation(server: ProviderServer, kt: Keyturn, *, serving: str | None = None,
             admin: bool = True) -> None:
    old = old_key(server)
    server.add_key(old)
    server.add_key(CANARY_NEW)
    server.serving = serving or CANARY_NEW
    server.admin_key = CANARY_ADMIN
    kt.write_config(server, old=old, new=CANARY_NEW, admin=CANARY_ADMIN if admin else None)


def first_admin_write_index(server: ProviderServer) -> int:
    hits = server.hits()
    return next(i for i, r in enumerate(hits) if r.is_admin_write)


def test_gate_that_never_opens_exits_1_without_any_admin_call(
    server: ProviderServer, kt: Keyturn
) -> None:
    rotation(server, kt, serving=old_key(server))  # the deployment still serves OLD
    result = kt.main("revoke", "svc", "--yes", "--timeout", "1.5")
    assert result.code == 1, result.out + result.err
    assert "admin API was not called" in result.err
    assert server.admin_writes() == []  # read only (the usage report's key lookups)
    assert server.key_by_raw(old_key(server)).status == "active"
    assert len(server.hits("models")) >= 4  # it did probe all that time


def test_yes_with_an_open_gate_deactivates_once_and_confirms(
    server: ProviderServer, kt: Keyturn
) -> None:
    rotation(server, kt)
    result = kt.main("revoke", "svc", "--yes", "--timeout", "15")
    assert result.code == 0, result.out + result.err
    writes = server.admin_writes()
    assert len(writes) == 1
    old = server.key_by_raw(old_key(server))
    if server.flavour == ANTHROPIC:
        assert writes[0].method == "POST" and writes[0].path.endswith("/" + old.id)
        assert writes[0].body == b'{"status":"inactive"}' or b'"inactive"' in writes[0].body
        assert old.status == "inactive"
    else:
        assert writes[0].method == "DELETE" and writes[0].path.endswith("/" + old.id)
        assert old.status == "deleted"
    assert server.key_by_raw(CANARY_NEW).status == "active"
    # Before the revoke, the new key and the deployment on it had a full streak.
    before = server.hits()[: first_admin_write_index(server)]
    assert sum(1 for r in before if r.route == "deployment") >= 2
    # After it, the old key was refused `streak` (2) times before the exit.
    after = [r for r in server.hits()[first_admin_write_index(server):]
             if r.route == "models" and old_key(server) in str(r.headers)]
    assert len(after) >= 2
    assert "done" in result.out
    assert fingerprint(old_key(server)) in result.out
    # The admin key went to the admin API only (its key list, its usage report, the revoke);
    # no key went anywhere but this server.
    assert all(r.route in ("admin", "usage") for r in server.hits()
               if CANARY_ADMIN in str(r.headers))
    audit = kt.state_dir / "audit.jsonl"
    assert audit.exists() and fingerprint(old_key(server)) in audit.read_text()


def test_without_yes_and_no_terminal_it_refuses_with_no_admin_call(
    server: ProviderServer, kt: Keyturn
) -> None:
    rotation(server, kt, serving=old_key(server))  # a gate that would take long to open
    result = kt.main("revoke", "svc", "--timeout", "30")
    assert result.code == 2, result.out + result.err
    assert "--yes" in result.err
    assert len(result.err_lines) == 1
    assert server.admin_calls() == []
    assert server.key_by_raw(old_key(server)).status == "active"
    assert result.elapsed < 10  # refused at once, not after waiting for the gate


def test_without_an_admin_key_it_prints_the_console_steps_and_waits(
    server: ProviderServer, kt: Keyturn
) -> None:
    rotation(server, kt, admin=False)
    out_lines: list[str] = []

    def on_line(line: str) -> None:
        out_lines.append(line)
        if "Revoke the OLD key in" in line:
            # The user revokes it in the console now.
            old = server.key_by_raw(old_key(server))
            old.status = "inactive" if server.flavour == ANTHROPIC else "deleted"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", Lines(sys.stdout, on_line))
        result = kt.main("revoke", "svc", "--yes", "--timeout", "20")
    assert result.code == 0, result.out + result.err
    steps = next(line for line in out_lines if "Revoke the OLD key in" in line)
    assert "…" + old_key(server)[-4:] in steps  # the masked key
    assert fingerprint(old_key(server)) in steps
    console = "console.anthropic.com" if server.flavour == ANTHROPIC else "platform.openai.com"
    assert console in steps
    assert server.admin_calls() == []


class Lines:
    """A stdout that hands each line to `on_line` as it is printed (as a user reads it)."""

    def __init__(self, inner: TextIO, on_line: Callable[[str], None]) -> None:
        self.inner, self.on_line, self.partial = inner, on_line, ""

    def write(self, text: str) -> int:
        self.inner.write(text)
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self.on_line(line + "\n")
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def run_on_a_terminal(kt: Keyturn, answer: bytes, *args: str, timeout: float = 20) -> tuple[int, str]:
    """Run keyturn with stdin/stdout on a pseudo-terminal; type `answer` at the prompt."""
    from tests.support_cli import KEYTURN

    leader, follower = pty.openpty()
    proc = subprocess.Popen([KEYTURN, "--config", str(kt.config), *args], stdin=follower,
                            stdout=follower, stderr=follower, env=kt.env(), cwd=kt.home)
    os.close(follower)
    seen = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
                if not answered and b"[y/N]" in seen:
                    os.write(leader, answer)
                    answered = True
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    text = seen.decode("utf-8", "replace")
    kt.check_no_canary(Result(code, text, "", 0.0))
    return code, text


def test_on_a_terminal_it_asks_and_no_means_no(server: ProviderServer, kt: Keyturn) -> None:
    rotation(server, kt)
    code, text = run_on_a_terminal(kt, b"n\n", "revoke", "svc", "--timeout", "15")
    assert "[y/N]" in text
    assert code == 1
    assert server.admin_writes() == []


def test_on_a_terminal_yes_revokes(anthropic_server: ProviderServer, kt: Keyturn) -> None:
    rotation(anthropic_server, kt)
    code, text = run_on_a_terminal(kt, b"y\n", "revoke", "svc", "--timeout", "15")
    assert code == 0, text
    assert len(anthropic_server.admin_writes()) == 1


# -- OpenAI: find by redacted_value, refuse when unsure, DELETE once -----------------------


def test_openai_refuses_when_several_keys_match(openai_server: ProviderServer, kt: Keyturn) -> None:
    rotation(openai_server, kt)
    # Another project key with the same redacted_value (same head, same last 3 characters).
    twin = CANARY_OPENAI[:11] + "zz-another-key-of-the-project-9" + CANARY_OPENAI[-3:]
    openai_server.add_key(twin)
    assert openai_server.hint(twin) == openai_server.hint(CANARY_OPENAI)
    result = kt.main("revoke", "svc", "--yes", "--timeout", "10")
    assert result.code == 1
    assert "refusing to guess" in result.err
    assert openai_server.admin_writes() == []
    assert len(openai_server.admin_calls()) >= 1  # it looked, and stopped there
    assert all(k.status == "active" for k in openai_server.keys.values())


def test_openai_refuses_when_no_key_matches(openai_server: ProviderServer, kt: Keyturn) -> None:
    rotation(openai_server, kt)
    # The project's list shows no key that fits the old one (it lives in another project).
    openai_server.hint = lambda raw: "sk-pro...000"  # type: ignore[method-assign]
    result = kt.main("revoke", "svc", "--yes", "--timeout", "10")
    assert result.code == 1
    assert "refusing to guess" in result.err
    assert openai_server.admin_writes() == []
    assert openai_server.key_by_raw(CANARY_OPENAI).status == "active"


def test_openai_deletes_exactly_once(openai_server: ProviderServer, kt: Keyturn) -> None:
    rotation(openai_server, kt)
    for i in range(45):  # more than two pages of project keys
        openai_server.add_key(f"sk-proj-other-key-number-{i:04d}-of-the-project-xyz{i:03d}")
    result = kt.main("revoke", "svc", "--yes", "--timeout", "15")
    assert result.code == 0, result.out + result.err
    writes = openai_server.admin_writes()
    assert [w.method for w in writes] == ["DELETE"]
    assert writes[0].path.endswith("/" + openai_server.key_by_raw(CANARY_OPENAI).id)
    lists = [r for r in openai_server.admin_calls() if r.method == "GET"]
    assert len(lists) >= 3 and any("after" in r.query for r in lists)  # it paged
    assert openai_server.key_by_raw(CANARY_OPENAI).status == "deleted"
    assert sum(k.status == "deleted" for k in openai_server.keys.values()) == 1


def test_revoke_with_a_rejected_admin_key_fails_cleanly(server: ProviderServer, kt: Keyturn) -> None:
    rotation(server, kt)
    server.admin_key = "sk-ant-admin01-a-different-admin-key-000000000"
    result = kt.main("revoke", "svc", "--yes", "--timeout", "10")
    assert result.code == 1
    assert "revoke failed" in result.err and "401" in result.err
    assert server.admin_writes() == []
    assert server.key_by_raw(old_key(server)).status == "active"



def test_an_unwritable_audit_log_stops_revoke_before_anything_happens(
    anthropic_server: ProviderServer, kt: Keyturn
) -> None:
    """A revocation that could not be recorded does not start (the state dir is a file)."""
    rotation(anthropic_server, kt)
    kt.state_dir.parent.mkdir(parents=True, exist_ok=True)
    kt.state_dir.write_text("not a directory")
    for command in (["revoke", "svc", "--yes"], ["watch", "svc", "--headless", "--timeout", "5"]):
        result = kt.main(*command)
        assert result.code == 2, result.err
        assert len(result.err_lines) == 1
        assert "state_dir" in result.err and str(kt.config) in result.err
    assert anthropic_server.hits() == []


def test_a_deployment_that_breaks_after_revoke_raises_the_alarm(
    anthropic_server: ProviderServer, kt: Keyturn
) -> None:
    """Part of the fleet still held the OLD key: after revoke the deployment is refused."""
    server = anthropic_server
    rotation(server, kt)

    def deactivate_then_break(request):
        if request.method == "POST":
            server.serving = CANARY_OLD  # the instance that answers next still has OLD

    server.always("admin", deactivate_then_break)
    result = kt.main("revoke", "svc", "--yes", "--timeout", "10")
    assert result.code == 1, result.out + result.err
    assert "ALARM" in result.err
    assert "Reactivate" in result.err  # Anthropic can roll back
    assert len(server.admin_writes()) == 1
    assert "done" not in result.out.splitlines()[-1]


def break_after_the_revoke(server: ProviderServer) -> None:
    """The deployment falls back to the OLD key once the provider deactivates it."""

    def deactivate_then_break(request):
        if request.method == "POST" and b"inactive" in request.body:
            server.serving = CANARY_OLD

    server.always("admin", deactivate_then_break)


def test_rollback_reactivates_the_old_key_at_once_when_the_deployment_breaks(
    anthropic_server: ProviderServer, kt: Keyturn, capsys: pytest.CaptureFixture[str]
) -> None:
    """`revoke --rollback`: no dashboard needed to undo a revoke that broke the app."""
    server = anthropic_server
    rotation(server, kt)
    break_after_the_revoke(server)
    result = in_process(kt, capsys, "revoke", "svc", "--yes", "--rollback", "--timeout", "10")
    assert result.code == 1, result.out + result.err
    assert "ALARM" in result.err and "reactivated (rolled back)" in result.err
    assert [w.body for w in server.admin_writes()] == [b'{"status":"inactive"}',
                                                      b'{"status":"active"}']
    assert server.key_by_raw(CANARY_OLD).status == "active"


def test_reactivate_after_an_alarm_sets_the_old_key_active_and_once_is_enough(
    anthropic_server: ProviderServer, kt: Keyturn, capsys: pytest.CaptureFixture[str]
) -> None:
    server = anthropic_server
    rotation(server, kt)
    break_after_the_revoke(server)
    assert in_process(kt, capsys, "revoke", "svc", "--yes", "--timeout", "10").code == 1
    assert server.key_by_raw(CANARY_OLD).status == "inactive"
    result = in_process(kt, capsys, "reactivate", "svc", "--yes")
    assert result.code == 0, result.err
    assert "is active again (rolled back)" in result.out
    assert server.key_by_raw(CANARY_OLD).status == "active"
    # Nothing left to undo: a second reactivate says so and sends nothing.
    writes = len(server.admin_writes())
    again = in_process(kt, capsys, "reactivate", "svc", "--yes")
    assert again.code == 1 and "nothing to reactivate" in again.err
    assert len(server.admin_writes()) == writes


def test_openai_says_before_the_revoke_that_it_cannot_be_undone(
    openai_server: ProviderServer, kt: Keyturn, capsys: pytest.CaptureFixture[str]
) -> None:
    rotation(openai_server, kt)
    result = in_process(kt, capsys, "revoke", "svc", "--yes", "--timeout", "10")
    assert result.code == 0, result.err
    warned = result.out.index("this cannot be undone")
    assert warned < result.out.index("phase: revoking")
    assert in_process(kt, capsys, "reactivate", "svc", "--yes").code == 1
