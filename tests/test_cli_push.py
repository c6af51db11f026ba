"""`keyturn push` against a Cloudflare stand-in, a real .env and a real child: once as a
real subprocess, the other cases through `tui.cli.main` in this process (the same code,
without a Python start-up each).

Every run is searched for the canary keys (stdout, stderr, every file under the home and
the state dir) and for the Cloudflare token, so each test is also a leak test.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import pytest

from tests.cloudflare_server import TOKEN, CloudflareServer, cloudflare
from tests.support_canary import CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_cli import Keyturn, Result, toml_value
from tui.cli import main
from tui.engine.audit import AuditLog

#: The command destination: it keeps a hash of what it read on stdin.
CHILD = ("import hashlib, sys; open(sys.argv[1], 'w').write("
         "hashlib.sha256(sys.stdin.buffer.read()).hexdigest()); print('Success! Uploaded')")


@pytest.fixture
def server():
    with cloudflare() as srv:
        yield srv


@pytest.fixture
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's own directory, outside keyturn's home (its .env holds a key by design)."""
    path = tmp_path_factory.mktemp("app")
    (path / ".env").write_text("# vision\nANTHROPIC_API_KEY=placeholder\nPORT=8080\n")
    return path


@pytest.fixture
def kt(isolated_home: Path, server: CloudflareServer, app_dir: Path) -> Keyturn:
    kt = Keyturn(isolated_home)
    kt.keys.update(KT_TEST_OLD=CANARY_OLD, KT_TEST_NEW=CANARY_NEW, KT_TEST_CF_TOKEN=TOKEN)
    lines = [
        "[rotations.svc]", 'provider = "anthropic"', 'base_url = "http://127.0.0.1:9"',
        'old = "env:KT_TEST_OLD"', 'new = "env:KT_TEST_NEW"', "",
        "[[rotations.svc.destinations]]", 'kind = "cloudflare-worker"',
        f"account_id = {toml_value(server.account)}", f"script = {toml_value(server.script)}",
        'secret = "ANTHROPIC_API_KEY"', 'token = "env:KT_TEST_CF_TOKEN"',
        f"api = {toml_value(server.api)}", "",
        "[[rotations.svc.destinations]]", 'kind = "dotenv"',
        f"path = {toml_value(str(app_dir / '.env'))}", 'variable = "ANTHROPIC_API_KEY"', "",
        "[[rotations.svc.destinations]]", 'kind = "command"',
        "argv = [" + ", ".join(toml_value(w) for w in (sys.executable, "-c", CHILD,
                                                      str(app_dir / "stdin.sha256"))) + "]",
        "timeout = 20", "",
        "[rotations.bare]", 'provider = "anthropic"', 'old = "env:KT_TEST_OLD"',
    ]
    kt.config.write_text("\n".join(lines) + "\n")
    return kt


@pytest.fixture
def push_here(kt: Keyturn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """`keyturn push ARGS` through tui.cli.main in this process, searched like a subprocess."""
    for var, raw in kt.keys.items():
        monkeypatch.setenv(var, raw)

    def run(*args: str) -> Result:
        started = time.monotonic()
        code = main(["--config", str(kt.config), "push", *args])
        out, err = capsys.readouterr()
        result = Result(code, out, err, time.monotonic() - started)
        kt.check_no_canary(result)
        no_token(result, kt)
        return result

    return run


def no_token(result: Result, kt: Keyturn) -> None:
    assert_no_canary(result.out, result.err, paths=[kt.state_dir], canaries=(TOKEN,))


def test_push_yes_writes_every_destination_and_records_each(
    kt: Keyturn, server: CloudflareServer, app_dir: Path
) -> None:
    result = kt.run("push", "svc", "--yes")
    assert result.code == 0, result.out + result.err
    assert "3 of 3 destinations written" in result.out
    assert "1. Worker cybersygn-vision (ANTHROPIC_API_KEY)" in result.out
    assert f"ANTHROPIC_API_KEY={CANARY_NEW}\n" in (app_dir / ".env").read_text()
    assert server.secret == CANARY_NEW
    wanted = hashlib.sha256(CANARY_NEW.encode()).hexdigest()
    assert (app_dir / "stdin.sha256").read_text() == wanted
    events = [e for e in AuditLog(kt.state_dir).events("svc") if e["event"] == "destination_write"]
    assert [(e["kind"], e["result"]) for e in events] == [
        ("cloudflare-worker", "written"), ("dotenv", "written"), ("command", "written")]
    assert events[0]["request_id"].endswith("-SJC") and "platform_time" in events[0]
    no_token(result, kt)


def test_one_failure_is_shown_in_the_platforms_words_and_the_rest_are_written(
    push_here, server: CloudflareServer, app_dir: Path
) -> None:
    server.fail("secrets", "no_script")
    result = push_here("svc", "--yes")
    assert result.code == 1
    assert ("failed: not found, HTTP 404: 10007: This Worker does not exist on your account."
            in result.out)
    assert "2 of 3 destinations written" in result.out
    assert f"ANTHROPIC_API_KEY={CANARY_NEW}\n" in (app_dir / ".env").read_text()


def test_no_terminal_and_no_yes_writes_nothing(push_here, server: CloudflareServer,
                                               app_dir: Path) -> None:
    result = push_here("svc")
    assert result.code == 2 and "pass --yes" in result.err
    assert server.hits == [] and "placeholder" in (app_dir / ".env").read_text()


def test_a_gradual_deployment_is_left_alone_without_a_terminal(
    push_here, server: CloudflareServer
) -> None:
    server.gradual(new_share=25)
    result = push_here("svc", "--yes")
    assert result.code == 1
    assert "is in a gradual deployment: 25 % on version" in result.out
    assert "skipped: not written: a gradual deployment is in progress" in result.out
    assert server.requests("secrets") == []


def test_writing_old_back_after_the_revoke_is_refused_and_says_so(
    push_here, kt: Keyturn, server: CloudflareServer, app_dir: Path
) -> None:
    from providers.keys import fingerprint

    AuditLog(kt.state_dir).append("svc", "revoke_requested", old=fingerprint(CANARY_OLD),
                                  method="admin")
    result = push_here("svc", "--slot", "old", "--yes")
    assert result.code == 1
    assert "was revoked (revoke requested" in result.err and "undo before Revoke" in result.err
    assert server.hits == [] and "placeholder" in (app_dir / ".env").read_text()


def test_a_rotation_without_destinations_says_how_to_add_one(push_here) -> None:
    result = push_here("bare", "--yes")
    assert result.code == 2
    assert "no destinations to write to (add [[rotations.bare.destinations]])" in result.err
