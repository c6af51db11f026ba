"""Hostile provider text over real HTTP: what the loopback provider sends in ids, names,
statuses and request ids reaches the user, the audit log and `AuditLog.events()` only as
clean, capped text, and a key id that needed cleaning is never sent back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers import provider_by_name
from providers.errors import AdminError
from providers.results import Verdict
from tests.provider_server import OPENAI, ProviderServer, Reply
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_server import engine_on
from tui.engine.audit import AuditLog
from tui.engine.credentials import Secret
from tui.engine.rotation import Notice, Phase
from tui.engine.session import open_client

pytest_plugins = ["tests.server_fixtures"]

FAST = {"interval": 0.05, "timeout": 1.0, "streak": 3}
#: A request id as a hostile gateway sends it: retitle, clear the screen, 8-bit CSI (as
#: UTF-8 bytes, written here as latin-1 characters), then 15 KB.
HOSTILE_RID = "req_\x1b]0;pwned\x07\x1b[2J\xc2\x9b1m" + "r" * 15 * 1024
#: A key id with escape sequences and a lone surrogate (JSON carries it as "\ud800").
HOSTILE_ID = "apikey_\x1b]0;title\x07\x1b[2J\ud800"


def harmless(text: str, cap: int) -> None:
    """Fail unless `text` is one printable, UTF-8-encodable line of at most `cap` chars,
    with nothing of the escape sequences above left in it."""
    text.encode("utf-8")
    assert text.isprintable() and len(text) <= cap, repr(text[:80])
    assert "pwned" not in text and "title" not in text and "[2J" not in text


def strings(value: object) -> list[str]:
    """Every string in a parsed JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def assert_clean_everywhere(notices: list[str], log: AuditLog) -> None:
    """The engine's notices, the audit log file and what the log reads back: harmless."""
    assert notices
    for text in notices:
        harmless(text, 1024)
    raw = log.path.read_bytes()
    raw.decode("utf-8")  # strictly: no lone surrogate was written
    assert b"\x1b" not in raw and b"\\u001b" not in raw and b"\\ud800" not in raw
    assert b"pwned" not in raw
    for line in raw.decode().splitlines():
        for text in strings(json.loads(line)):
            harmless(text, 512)
    events = list(log.events())
    assert events
    for record in events:
        for text in strings(record):
            harmless(text, 512)
    assert_no_canary(*notices, paths=[log.path])


def world(server: ProviderServer) -> None:
    server.add_key(CANARY_OLD)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    server.serving = CANARY_NEW


def notices(events: list[object]) -> list[str]:
    return [e.text for e in events if isinstance(e, Notice)]


async def test_an_admin_key_list_with_hostile_fields_comes_out_clean_and_capped(
    server: ProviderServer,
) -> None:
    world(server)
    server.add_key("sk-ant-api03-" + "decoy" * 12, name="\x1b[2Jname\x1b]0;pwned\x07" + "n" * 5000)
    hostile = server.add_key("sk-ant-api03-" + "other" * 12)
    hostile.id = HOSTILE_ID + "x" * 15 * 1024
    options = {"project_id": server.project_id} if server.flavour == OPENAI else {}
    provider = provider_by_name(server.flavour, server.base_url, **options)
    async with open_client(provider) as client:
        keys = await provider.list_admin_keys(client, Secret(CANARY_ADMIN), 2.0)
    assert len(keys) == 4
    for key in keys:
        for text in (key.id, key.hint, key.status, key.name):
            harmless(text, 128)
    by_id = {key.id: key for key in keys}
    assert by_id[server.key_by_raw(CANARY_OLD).id].plain  # ordinary ids are kept as sent
    (odd,) = [key for key in keys if not key.plain]
    assert odd.id.startswith("apikey_\ufffd") and odd.id.endswith("…")


async def test_a_hostile_15kb_admin_request_id_is_shown_and_logged_capped(
    server: ProviderServer, tmp_path: Path
) -> None:
    world(server)
    server.request_ids["admin"] = HOSTILE_RID
    log = AuditLog(tmp_path)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN, audit=log,
                         **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke, 5.0)
        receipt = await run.engine.revoke()
        assert await run.until(lambda: run.engine.phase is Phase.DONE, 5.0)
    assert receipt is not None and receipt.request_id is not None
    harmless(receipt.request_id, 128)
    assert receipt.request_id.startswith("req_") and receipt.request_id.endswith("…")
    (confirmed,) = [n for n in notices(run.events) if n.startswith("provider confirmed")]
    assert receipt.request_id in confirmed
    assert [e["request_id"] for e in log.events() if e["event"] == "revoke_confirmed"] == [
        receipt.request_id
    ]
    assert_clean_everywhere(notices(run.events), log)


async def test_a_key_id_with_escapes_and_a_lone_surrogate_is_shown_clean_and_never_sent_back(
    server: ProviderServer, tmp_path: Path
) -> None:
    world(server)
    server.key_by_raw(CANARY_OLD).id = HOSTILE_ID
    server.request_ids["admin"] = HOSTILE_RID
    log = AuditLog(tmp_path)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN, audit=log,
                         **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke, 5.0)
        with pytest.raises(AdminError, match="not plain text"):
            await run.engine.revoke()
        assert run.engine.phase in (Phase.PROPAGATING, Phase.READY)
    assert server.admin_writes() == []
    assert server.key_by_raw(CANARY_OLD).status == "active"
    (failed,) = [n for n in notices(run.events) if n.startswith("revoke failed")]
    assert "apikey_\ufffd" in failed
    (failure,) = [e for e in log.events() if e["event"] == "revoke_failed"]
    assert "apikey_\ufffd" in failure["detail"]
    assert_clean_everywhere(notices(run.events), log)


async def test_a_hostile_status_in_the_admin_answer_is_reported_clean(
    anthropic_server: ProviderServer, tmp_path: Path
) -> None:
    server = anthropic_server
    world(server)
    old_id = server.key_by_raw(CANARY_OLD).id
    answer = json.dumps({"id": old_id, "type": "api_key",
                         "status": "\x1b]0;pwned\x07\x1b[2Jarchived\ud800" + "s" * 5000})

    def post_answer(request) -> Reply | None:
        return Reply(200, {}, answer.encode()) if request.method == "POST" else None

    server.always("admin", post_answer)
    log = AuditLog(tmp_path)
    async with engine_on(server, CANARY_OLD, CANARY_NEW, admin=CANARY_ADMIN, audit=log,
                         **FAST) as run:
        assert await run.until(lambda: run.engine.can_revoke, 5.0)
        with pytest.raises(AdminError, match="admin API left key"):
            await run.engine.revoke()
    (failed,) = [n for n in notices(run.events) if n.startswith("revoke failed")]
    assert f"left key {old_id} archived\ufffd" in failed and "not inactive" in failed
    assert_clean_everywhere(notices(run.events), log)


async def test_a_key_echoed_between_colour_escapes_is_still_scrubbed(server: ProviderServer) -> None:
    """Cleaned first, then scrubbed: escapes every 6 characters cannot hide the key."""
    server.script("models", "echo_key_coloured")
    server.request_ids["models"] = HOSTILE_RID
    provider = provider_by_name(server.flavour, server.base_url)
    async with open_client(provider) as client:
        result = await provider.probe(client, Secret(CANARY_OLD), 2.0)
    assert result.verdict is Verdict.REJECTED
    assert "****" in result.detail and "is not valid here" in result.detail
    harmless(result.detail, 240)
    assert result.request_id is not None
    harmless(result.request_id, 128)
    assert_no_canary(result.detail, result.request_id)

