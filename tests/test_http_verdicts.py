"""Every verdict, for Anthropic and OpenAI, through real HTTP against a loopback server.

The server behaves like the provider (auth headers, error bodies, request ids,
retry-after, Anthropic's 529 and its 404 for a disabled key); the probes go through the
same request building, capped reading and classification the CLI and dashboard use.
"""

from __future__ import annotations

import time

import pytest

from providers import provider_by_name
from providers.base import Provider
from providers.deployment import DeploymentTarget
from providers.results import ProbeResult, Verdict
from tests.provider_server import (
    ANTHROPIC,
    OPENAI,
    ProviderServer,
    closed_port,
)
from tests.support_canary import CANARY_NEW, CANARY_OLD, CANARY_OPENAI, assert_no_canary
from tui.engine.credentials import Secret
from tui.engine.session import open_client

pytest_plugins = ["tests.server_fixtures"]  # the server fixtures

KEY = {ANTHROPIC: CANARY_NEW, OPENAI: CANARY_OPENAI}
REQUEST_ID_HEADER = {ANTHROPIC: "request-id", OPENAI: "x-request-id"}


def provider_for(server: ProviderServer, **options: object) -> Provider:
    return provider_by_name(server.flavour, server.base_url, **options)


async def probe(server: ProviderServer, raw: str | None = None, timeout: float = 2.0) -> ProbeResult:
    provider = provider_for(server)
    async with open_client(provider) as client:
        result = await provider.probe(client, Secret(raw or KEY[server.flavour]), timeout)
    # Whatever the answer, what a probe keeps for display never carries the key.
    assert_no_canary(result.detail, result.request_id or "")
    return result


def assert_request_id_kept(server: ProviderServer, result: ProbeResult) -> None:
    assert result.request_id is not None and result.request_id.startswith("req_")
    assert result.request_id.endswith(f"{len(server.hits()):08d}")  # the last request's id


async def test_live_key_is_live_with_its_request_id(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    result = await probe(server)
    assert result.verdict is Verdict.LIVE
    assert result.status == 200
    assert_request_id_kept(server, result)
    # The key went in the provider's own header, and only that key went anywhere.
    sent = server.hits("models")[0].headers
    if server.flavour == ANTHROPIC:
        assert sent["x-api-key"] == CANARY_NEW and sent["anthropic-version"] == "2023-06-01"
    else:
        assert sent["authorization"] == "Bearer " + CANARY_OPENAI
    assert server.keys_seen() == {KEY[server.flavour]}


async def test_unknown_key_is_rejected_with_the_provider_message(server: ProviderServer) -> None:
    result = await probe(server)  # the server knows no key at all
    assert result.verdict is Verdict.REJECTED
    assert result.status == 401
    expected = "invalid x-api-key" if server.flavour == ANTHROPIC else "Incorrect API key provided"
    assert expected in result.detail
    assert_request_id_kept(server, result)


async def test_anthropic_disabled_key_answers_404_and_is_rejected(
    anthropic_server: ProviderServer,
) -> None:
    anthropic_server.add_key(CANARY_OLD, status="inactive")
    result = await probe(anthropic_server, CANARY_OLD)
    assert result.status == 404
    assert result.verdict is Verdict.REJECTED
    assert "disabled" in result.detail
    assert_request_id_kept(anthropic_server, result)


async def test_openai_404_is_not_proof_of_anything(openai_server: ProviderServer) -> None:
    openai_server.add_key(CANARY_OPENAI)
    openai_server.script("models", 404)
    result = await probe(openai_server)
    assert result.verdict is Verdict.UNEXPECTED


@pytest.mark.parametrize("retry_after, expected", [("7", 7.0), ("0.25", 0.25), (None, None)])
async def test_429_is_throttled_and_keeps_retry_after(
    server: ProviderServer, retry_after: str | None, expected: float | None
) -> None:
    server.add_key(KEY[server.flavour])
    server.retry_after = retry_after
    server.script("models", 429)
    result = await probe(server)
    assert result.verdict is Verdict.THROTTLED
    assert result.verdict.indeterminate
    assert result.retry_after == expected
    assert "rate limit" in result.detail.lower()
    assert_request_id_kept(server, result)


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_errors_are_unavailable(server: ProviderServer, status: int) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", status)
    result = await probe(server)
    assert result.verdict is Verdict.UNAVAILABLE
    assert result.status == status
    assert result.detail.startswith(str(status))
    if status == 529 and server.flavour == ANTHROPIC:
        assert "overloaded" in result.detail
    if status == 502:
        assert "HTML" in result.detail  # the load balancer's page, named as such
    assert_request_id_kept(server, result)


async def test_closed_port_is_unreachable(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    with closed_port() as port:
        provider = provider_by_name(
            server.flavour, f"http://127.0.0.1:{port}" + ("/v1" if server.flavour == OPENAI else "")
        )
        async with open_client(provider) as client:
            result = await provider.probe(client, Secret(KEY[server.flavour]), 2.0)
    assert result.verdict is Verdict.UNREACHABLE
    assert "connection failed" in result.detail
    assert result.status is None


async def test_slow_answer_times_out_as_unreachable_on_time(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.slow_seconds = 3.0
    server.script("models", "slow")
    started = time.monotonic()
    result = await probe(server, timeout=0.4)
    elapsed = time.monotonic() - started
    assert result.verdict is Verdict.UNREACHABLE
    assert result.detail == f"timed out waiting for 127.0.0.1:{server.port}"
    assert 0.35 <= elapsed < 1.5  # the probe's deadline, not the server's pace


@pytest.mark.parametrize(
    "action, words",
    [(400, ""), (403, "permission"), ("html_200", "HTML"), (405, "")],
)
async def test_misconfiguration_answers_are_unexpected(
    server: ProviderServer, action: int | str, words: str
) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", action)
    result = await probe(server)
    assert result.verdict is Verdict.UNEXPECTED
    assert not result.verdict.indeterminate
    if words and not (words == "permission" and server.flavour == OPENAI):
        assert words in result.detail
    assert_request_id_kept(server, result)


async def test_403_shows_the_provider_message(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", 403)
    result = await probe(server)
    assert result.verdict is Verdict.UNEXPECTED  # 403 is never proof a key is valid
    expected = "permission_error" if server.flavour == ANTHROPIC else "not allowed"
    assert expected in result.detail


async def test_anthropic_probe_without_version_header_would_be_refused(
    anthropic_server: ProviderServer,
) -> None:
    """The server insists on anthropic-version like the real API; keyturn always sends it."""
    anthropic_server.add_key(CANARY_NEW)
    result = await probe(anthropic_server)
    assert result.verdict is Verdict.LIVE
    assert all("anthropic-version" in r.headers for r in anthropic_server.hits())


async def test_one_client_reuses_one_connection(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    provider = provider_for(server)
    async with open_client(provider) as client:
        for _ in range(10):
            result = await provider.probe(client, Secret(KEY[server.flavour]), 2.0)
            assert result.verdict is Verdict.LIVE
    assert len(server.hits("models")) == 10
    assert server.connections == 1


# -- the deployment probe contract ---------------------------------------------------


async def deployment_probe(server: ProviderServer) -> ProbeResult:
    provider = provider_for(server)
    target = DeploymentTarget(server.deployment_url, provider)
    async with open_client(provider) as client:
        return await target.probe(client, None, 2.0)


async def test_deployment_reports_the_key_it_serves(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.serving = KEY[server.flavour]
    result = await deployment_probe(server)
    assert result.verdict is Verdict.LIVE
    assert result.served_fingerprint == Secret(KEY[server.flavour]).fingerprint
    # No key is ever sent to the deployment.
    assert server.keys_seen() == set()


async def test_deployment_on_a_revoked_key_is_rejected(server: ProviderServer) -> None:
    status = "inactive" if server.flavour == ANTHROPIC else "deleted"
    server.add_key(KEY[server.flavour], status=status)
    server.serving = KEY[server.flavour]
    result = await deployment_probe(server)
    assert result.status == 503
    assert result.verdict is Verdict.REJECTED
    assert result.served_fingerprint == Secret(KEY[server.flavour]).fingerprint


async def test_deployment_without_fingerprint_is_health_of_an_unknown_key(
    server: ProviderServer,
) -> None:
    server.add_key(KEY[server.flavour])
    server.serving = KEY[server.flavour]
    server.deployment_reports_fingerprint = False
    result = await deployment_probe(server)
    assert result.verdict is Verdict.LIVE
    assert result.served_fingerprint is None


@pytest.mark.parametrize("status, verdict", [(429, Verdict.THROTTLED), (529, Verdict.UNAVAILABLE),
                                             (403, Verdict.UNEXPECTED)])
async def test_deployment_verdict_follows_the_status_it_saw(
    server: ProviderServer, status: int, verdict: Verdict
) -> None:
    from tests.provider_server import Reply

    body = b'{"ok": false, "status": %d, "fingerprint": "0123456789ab"}' % status
    server.script("deployment", Reply(503, {}, body))
    result = await deployment_probe(server)
    assert result.verdict is verdict
