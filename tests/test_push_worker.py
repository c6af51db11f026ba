"""Writing the key to a Cloudflare Worker, against a loopback stand-in for Cloudflare's API.

What an operator notices: the secret is set with the documented request, each failure
is shown in Cloudflare's own words and leaves the other destinations' writes standing,
a Worker in a gradual deployment is asked about before it is touched, OLD cannot be
written back after its revoke, and neither the token nor a key is ever shown or logged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cloudflare_server import TOKEN, CloudflareServer, cloudflare
from tests.support_canary import CANARIES, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_push import never, push_engine, worker_at, writes
from tui.engine.destinations import DotenvFile
from tui.engine.push import PushRefused, push

SECRETS = (*CANARIES, TOKEN)


@pytest.fixture
def server():
    with cloudflare() as srv:
        yield srv


@pytest.fixture
def dotenv(tmp_path: Path) -> Path:
    path = tmp_path / "app" / ".env"
    path.parent.mkdir()
    path.write_text("# the app's settings\nANTHROPIC_API_KEY=placeholder\nPORT=8080\n")
    return path


async def test_new_is_written_with_the_documented_request_after_reading_the_rollout(
    server: CloudflareServer, monkeypatch, tmp_path: Path
) -> None:
    async with push_engine(monkeypatch, tmp_path, worker_at(server), token=TOKEN) as engine:
        [result] = await push(engine, "new", never)
    assert result.ok, result.message
    assert server.secret == CANARY_NEW
    [put] = server.requests("secrets")
    assert put.method == "PUT"
    assert json.loads(put.body) == {"name": "ANTHROPIC_API_KEY", "text": CANARY_NEW,
                                    "type": "secret_text"}
    assert put.headers["authorization"] == f"Bearer {TOKEN}"
    # Its rollout was read before it was written to.
    assert server.hits.index(put) > server.hits.index(server.requests("deployments")[0])
    new_version = server.versions[-1].id[:8]
    assert f"100 % on version {new_version}" in result.message and "secret change" in result.message
    [event] = writes(tmp_path)
    assert event["result"] == "written" and event["slot"] == "new"
    assert event["fingerprint"] == engine.keys.new.fingerprint
    assert event["request_id"] == result.request_id and result.request_id.endswith("-SJC")
    assert_no_canary(result.line, paths=[tmp_path], canaries=SECRETS)


@pytest.mark.parametrize(("failure", "words"), [
    ("auth", "authentication failed, HTTP 403: 10000: Authentication error"),
    ("no_script", "not found, HTTP 404: 10007: This Worker does not exist on your account."),
    ("rate_limited", "rate limited, retry after 30 s, HTTP 429: 10429: Too many requests"),
    ("unavailable", "HTTP 503: 10013: An unknown error has occurred"),
    ("html", "HTTP 502 with an HTML page"),
    ("refused", "refused (success: false): 10215: Secret edit failed."),
    ("redirect", "HTTP 307 with no Cloudflare API answer"),
])
async def test_a_failed_write_says_what_cloudflare_said_and_the_others_still_stand(
    server: CloudflareServer, monkeypatch, tmp_path: Path, dotenv: Path, failure: str,
    words: str,
) -> None:
    server.fail("secrets", failure)
    destinations = (worker_at(server), DotenvFile(str(dotenv), "ANTHROPIC_API_KEY"))
    async with push_engine(monkeypatch, tmp_path / "state", *destinations,
                           token=TOKEN) as engine:
        worker, env_file = await push(engine, "new", never)
    assert worker.outcome == "failed" and words in worker.message, worker.message
    assert worker.request_id is not None and worker.request_id.endswith("-SJC")
    assert server.secret == "the old key"
    assert env_file.ok and f"ANTHROPIC_API_KEY={CANARY_NEW}\n" in dotenv.read_text()
    assert [e["result"] for e in writes(tmp_path / "state")] == ["failed", "written"]
    assert_no_canary(worker.line, paths=[tmp_path / "state"], canaries=SECRETS)


async def test_a_worker_whose_rollout_cannot_be_read_is_not_written_blind(
    server: CloudflareServer, monkeypatch, tmp_path: Path
) -> None:
    server.fail("deployments", "auth")
    async with push_engine(monkeypatch, tmp_path, worker_at(server), token=TOKEN) as engine:
        [result] = await push(engine, "new", never)
    assert result.outcome == "failed"
    assert "cannot read its deployments: authentication failed" in result.message
    assert server.requests("secrets") == []


async def test_a_missing_token_is_named_and_nothing_is_sent(
    server: CloudflareServer, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KT_TEST_CLOUDFLARE_TOKEN", raising=False)
    async with push_engine(monkeypatch, tmp_path, worker_at(server)) as engine:
        [result] = await push(engine, "new", never)
    assert result.outcome == "failed"
    assert "KT_TEST_CLOUDFLARE_TOKEN is not set" in result.message
    assert server.hits == []


@pytest.mark.parametrize("agree", [False, True])
async def test_a_gradual_deployment_is_described_and_asked_about_first(
    server: CloudflareServer, monkeypatch, tmp_path: Path, agree: bool
) -> None:
    server.gradual(new_share=10)
    asked: list[str] = []

    async def ask(destination, found: str) -> bool:
        asked.append(found)
        return agree

    async with push_engine(monkeypatch, tmp_path, worker_at(server), token=TOKEN) as engine:
        [result] = await push(engine, "new", ask)
    [found] = asked
    newer, older = server.versions[1].id, server.versions[0].id
    assert f"10 % on version {newer[:8]}…" in found and f"90 % on version {older[:8]}…" in found
    assert "gradual deployment" in found
    if agree:
        assert result.ok and len(server.requests("secrets")) == 1
    else:
        assert result.outcome == "skipped" and "gradual deployment is in progress" in result.message
        assert server.requests("secrets") == []
        assert writes(tmp_path)[0]["result"] == "skipped"


async def test_writing_old_back_is_the_undo_and_is_refused_after_the_revoke(
    server: CloudflareServer, monkeypatch, tmp_path: Path
) -> None:
    async with push_engine(monkeypatch, tmp_path, worker_at(server), token=TOKEN) as engine:
        await push(engine, "new", never)
        [undo] = await push(engine, "old", never)
        assert undo.ok and server.secret == CANARY_OLD
        engine.record("revoke_requested", old=engine.keys.old.fingerprint, method="admin")
        sent = len(server.hits)
        with pytest.raises(PushRefused, match="was revoked .revoke requested .*undo before Revoke"):
            await push(engine, "old", never)
    assert len(server.hits) == sent
    assert server.secret == CANARY_OLD


async def test_a_gateway_quoting_the_token_and_key_back_is_scrubbed(
    server: CloudflareServer, monkeypatch, tmp_path: Path
) -> None:
    server.fail("secrets", "echo")
    async with push_engine(monkeypatch, tmp_path, worker_at(server), token=TOKEN) as engine:
        [result] = await push(engine, "new", never)
    assert result.outcome == "failed" and "bad request from Bearer ****" in result.message
    assert "\x1b" not in result.message and "pwned" not in result.message
    assert_no_canary(result.line, paths=[tmp_path], canaries=SECRETS)


async def test_the_gate_reads_cloudflares_rollout_after_the_write(
    server: CloudflareServer, monkeypatch, tmp_path: Path
) -> None:
    from tui.engine.gate import GateState, with_platform_rollout

    def lock() -> tuple[str, ...]:
        return with_platform_rollout(GateState(True), engine.platform.rollouts()).reasons

    async with push_engine(monkeypatch, tmp_path, worker_at(server), token=TOKEN) as engine:
        watch = engine.platform.watches[0]
        assert lock() == ("NEW key not written to Worker cybersygn-vision (ANTHROPIC_API_KEY) "
                          "yet (w, or `keyturn push`)",)
        await push(engine, "new", never)
        assert lock() == ()  # 100 % on the version the write created
        server.rollback()
        first = server.versions[0].id[:8]
        await engine.platform.read(watch)
        assert lock() == (f"Worker cybersygn-vision (ANTHROPIC_API_KEY): 100 % on version "
                          f"{first}… from before the NEW key was written",)
        server.gradual(new_share=40)  # a new version the API then cannot describe
        server.fail("version", "unavailable")
        await engine.platform.read(watch)
        newer = server.versions[-1].id[:8]
        assert lock() == (
            f"Worker cybersygn-vision (ANTHROPIC_API_KEY): 60 % on version {first}… from before "
            "the NEW key was written",
            f"Worker cybersygn-vision (ANTHROPIC_API_KEY): 40 % on version {newer}…, whose "
            "creation time could not be read")
        server.fail("deployments", "unavailable")  # no evidence: the last reading stands
        await engine.platform.read(watch)
        assert len(lock()) == 2 and "HTTP 503" in (watch.problem or "")
        server.fail("deployments", "auth")  # refused: nothing is known any more
        await engine.platform.read(watch)
        assert lock() == ("Worker cybersygn-vision (ANTHROPIC_API_KEY): cannot read its "
                          "deployments: authentication failed, HTTP 403: 10000: Authentication "
                          "error (check the token and its permissions)",)
