"""The fault matrix: the network and the provider misbehave; the verdict stays right.

Each case runs a real probe against a loopback server that misbehaves at the byte level,
and checks the verdict, that nothing crashes, that the probe ends on its own deadline,
and that the key reaches no host but the configured one. Indeterminate answers
(throttled, unavailable, unreachable) never count as a key being rejected.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import time
from pathlib import Path

import httpx
import pytest

from providers import provider_by_name
from providers.base import Provider
from providers.body import BODY_CAP
from providers.deployment import DeploymentTarget
from providers.results import ProbeResult, Verdict
from tests.provider_server import (
    ANTHROPIC,
    OPENAI,
    ProviderServer,
    Reply,
    closed_port,
    running,
    self_signed_context,
)
from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    CANARY_OPENAI,
    assert_no_canary,
)
from tests.support_server import SURE, HttpFakeClock, engine_on, gaps
from tui.engine.credentials import Secret
from tui.engine.gate import Role
from tui.engine.rotation import Phase
from tui.engine.scheduler import FakeClock, Scheduler, Target
from tui.engine.session import open_client

pytest_plugins = ["tests.server_fixtures"]  # the server fixtures

KEY = {ANTHROPIC: CANARY_NEW, OPENAI: CANARY_OPENAI}


def provider_at(flavour: str, root: str) -> Provider:
    return provider_by_name(flavour, root + ("/v1" if flavour == OPENAI else ""))


async def probe_at(flavour: str, root: str, raw: str, timeout: float = 1.0) -> tuple[ProbeResult, float]:
    provider = provider_at(flavour, root)
    started = time.monotonic()
    async with open_client(provider) as client:
        result = await provider.probe(client, Secret(raw), timeout)
    assert_no_canary(result.detail, result.request_id or "")
    return result, time.monotonic() - started


async def probe(server: ProviderServer, timeout: float = 1.0) -> tuple[ProbeResult, float]:
    return await probe_at(server.flavour, server.url, KEY[server.flavour], timeout)


# -- the connection ------------------------------------------------------------------


async def test_connection_refused(server: ProviderServer) -> None:
    with closed_port() as port:
        result, elapsed = await probe_at(server.flavour, f"http://127.0.0.1:{port}", KEY[server.flavour])
    assert result.verdict is Verdict.UNREACHABLE
    assert result.detail == f"connection failed: 127.0.0.1:{port} refused it (nothing listening there?)"
    assert elapsed < 1.0


async def test_reset_mid_body(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", "reset_mid_body")
    result, _ = await probe(server)
    assert result.verdict is Verdict.UNREACHABLE  # no evidence either way
    assert result.status == 200
    assert result.detail == f"HTTP 200, then connection reset mid-answer by 127.0.0.1:{server.port}"


async def test_connection_closed_without_an_answer(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", "close")
    result, _ = await probe(server)
    assert result.verdict is Verdict.UNREACHABLE
    assert result.detail == f"connection closed mid-answer by 127.0.0.1:{server.port}"


async def test_headers_trickling_slower_than_the_timeout_hit_the_overall_deadline(
    server: ProviderServer,
) -> None:
    """Every byte arrives within any per-read timeout; only an overall deadline stops it."""
    server.add_key(KEY[server.flavour])
    server.trickle_every = 0.02  # far inside httpx's per-read timeout
    server.trickle_for = 5.0
    server.script("models", "trickle_headers")
    result, elapsed = await probe(server, timeout=0.5)
    assert result.verdict is Verdict.UNREACHABLE
    assert result.detail == f"timed out waiting for 127.0.0.1:{server.port}"
    assert elapsed < 1.5


# -- the body --------------------------------------------------------------------------


async def test_200_with_an_html_page_is_unexpected(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", "html_200")
    result, _ = await probe(server)
    assert result.verdict is Verdict.UNEXPECTED
    assert result.detail == "HTTP 200 with an HTML page"


async def test_truncated_json_is_unexpected(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", "truncated_json")
    result, _ = await probe(server)
    assert result.verdict is Verdict.UNEXPECTED
    assert "not a model list" in result.detail


async def test_deeply_nested_json_is_unexpected_not_a_crash(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", Reply(200, {}, b"[" * 60_000))
    server.script("deployment", Reply(200, {}, b"{\"ok\": " + b"[" * 60_000))
    result, _ = await probe(server)
    assert result.verdict is Verdict.UNEXPECTED
    target = DeploymentTarget(server.deployment_url, provider_at(server.flavour, server.url))
    async with open_client(target.provider) as client:
        deployed = await target.probe(client, None, 1.0)
    assert deployed.verdict is Verdict.UNEXPECTED


async def test_a_body_of_many_megabytes_is_read_only_up_to_the_cap(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.huge_size = 64 * 1024 * 1024
    server.script("models", "huge_body")
    provider = provider_at(server.flavour, server.url)
    seen: list[int] = []
    classify = provider.classify

    def spy(status, headers, body):  # what the classifier was given
        seen.append(len(body))
        return classify(status, headers, body)

    provider.classify = spy  # type: ignore[method-assign]
    started = time.monotonic()
    async with open_client(provider) as client:
        result = await provider.probe(client, Secret(KEY[server.flavour]), 2.0)
    elapsed = time.monotonic() - started
    assert result.verdict is Verdict.UNEXPECTED  # a cut-off body is not a model list
    assert seen == [BODY_CAP]
    assert elapsed < 1.5
    # The server thread stops sending when it notices the closed socket.
    assert await asyncio.to_thread(server.wait_finished, len(server.hits()))
    assert server.huge_bytes_sent < server.huge_size // 4  # the rest was never downloaded


async def test_a_compressed_answer_is_inflated(server: ProviderServer) -> None:
    """Some proxies gzip whatever was asked; a live key must still read as live."""
    server.add_key(KEY[server.flavour])
    server.script("models", "gzip")
    result, _ = await probe(server)
    assert result.verdict is Verdict.LIVE
    # keyturn asks for an uncompressed answer in the first place.
    assert server.hits("models")[0].headers.get("accept-encoding") == "identity"


async def test_a_gzip_bomb_inflates_only_up_to_the_cap(server: ProviderServer) -> None:
    bomb = gzip.compress(b'{"data": [' + b" " * (48 * 1024 * 1024), compresslevel=1)
    assert len(bomb) < 512 * 1024  # 48 MB once inflated
    server.script("models", Reply(200, {"content-encoding": "gzip"}, bomb))
    started = time.monotonic()
    result, _ = await probe(server, timeout=3.0)
    assert result.verdict is Verdict.UNEXPECTED
    assert time.monotonic() - started < 2.0


async def test_an_unknown_content_encoding_is_unexpected(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.script("models", Reply(200, {"content-encoding": "br"}, b"\x0b\x02\x80"))
    result, _ = await probe(server)
    assert result.verdict is Verdict.UNEXPECTED


async def test_a_gateway_quoting_the_key_does_not_make_it_shown(server: ProviderServer) -> None:
    server.script("models", "echo_key")
    result, _ = await probe(server)  # probe() asserts no canary in detail and request id
    assert result.verdict is Verdict.REJECTED
    assert "not valid here" in result.detail


async def test_a_huge_request_id_is_cut(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    header = "request-id" if server.flavour == ANTHROPIC else "x-request-id"
    server.script("models", lambda req: Reply(200, {header: "r" * 8000},
                                              b'{"data": [], "object": "list"}'))
    result, _ = await probe(server)
    assert result.verdict is Verdict.LIVE
    assert result.request_id is not None and len(result.request_id) <= 128


# -- TLS and names ---------------------------------------------------------------------


async def test_tls_handshake_failure_is_unreachable(tmp_path: Path) -> None:
    with running(ANTHROPIC) as plain:
        plain.plain_garbage = True  # answers a ClientHello with plain HTTP bytes
        result, elapsed = await probe_at(ANTHROPIC, plain.url, CANARY_NEW)
    assert plain.url.startswith("https://")
    assert result.verdict is Verdict.UNREACHABLE
    assert result.detail.startswith("TLS error")
    assert elapsed < 1.0


async def test_untrusted_certificate_is_unreachable_and_verification_stays_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, cert = self_signed_context(tmp_path)
    with running(ANTHROPIC, tls=ctx) as tls_server:
        tls_server.add_key(CANARY_NEW)
        result, _ = await probe_at(ANTHROPIC, tls_server.url, CANARY_NEW)
        assert result.verdict is Verdict.UNREACHABLE
        assert result.detail.startswith("TLS error")
        assert "certificate" in result.detail.lower()
        assert tls_server.hits() == []  # the key never crossed the untrusted connection
        # Control: the same server is live once its certificate is trusted, so the verdict
        # above came from verification and nothing else.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusted, _ = await probe_at(ANTHROPIC, tls_server.url, CANARY_NEW)
        assert trusted.verdict is Verdict.LIVE
        assert len(tls_server.hits()) == 1


async def test_a_host_that_does_not_resolve_fails_fast(server: ProviderServer) -> None:
    result, elapsed = await probe_at(server.flavour, "https://api.keyturn-test.invalid", KEY[server.flavour],
                                     timeout=3.0)
    assert result.verdict is Verdict.UNREACHABLE
    assert result.detail == "DNS: api.keyturn-test.invalid does not resolve"
    assert elapsed < 2.0


# -- redirects: the key goes to the configured host only --------------------------------


async def test_a_redirect_is_never_followed_with_the_key(server: ProviderServer) -> None:
    with running(server.flavour) as elsewhere:
        elsewhere.add_key(KEY[server.flavour])
        server.redirect_to = elsewhere.url
        server.always("models", "redirect")
        server.always("deployment", "redirect")
        result, _ = await probe(server)
        assert result.verdict is Verdict.UNEXPECTED
        assert result.status == 307
        assert "not followed" in result.detail
        target = DeploymentTarget(server.deployment_url, provider_at(server.flavour, server.url))
        async with open_client(target.provider) as client:
            deployed = await target.probe(client, None, 1.0)
        assert deployed.verdict is Verdict.UNEXPECTED
        assert elsewhere.hits() == []
        assert elsewhere.connections == 0


async def test_admin_calls_never_follow_a_redirect(server: ProviderServer) -> None:
    from providers.errors import AdminError

    admin = CANARY_ADMIN
    with running(server.flavour) as elsewhere:
        server.admin_key = admin
        server.redirect_to = elsewhere.url
        server.always("admin", "redirect")
        provider = provider_by_name(server.flavour, server.base_url,
                                    **({"project_id": server.project_id}
                                       if server.flavour == OPENAI else {}))
        async with open_client(provider) as client:
            with pytest.raises(AdminError) as err:
                await provider.find_admin_key(client, Secret(admin), Secret(CANARY_OLD), 1.0)
        assert "307" in str(err.value)
        assert_no_canary(str(err.value))
        assert elsewhere.hits() == []


async def test_admin_calls_have_an_overall_deadline(server: ProviderServer) -> None:
    from providers.errors import AdminError

    server.admin_key = CANARY_ADMIN
    server.trickle_every = 0.02
    server.always("admin", "trickle_headers")
    provider = provider_by_name(server.flavour, server.base_url,
                                **({"project_id": server.project_id}
                                   if server.flavour == OPENAI else {}))
    started = time.monotonic()
    async with open_client(provider) as client:
        with pytest.raises(AdminError, match="timed out"):
            await provider.list_admin_keys(client, Secret(CANARY_ADMIN), 0.5)
    assert time.monotonic() - started < 1.5


# -- throttling: one request per retry-after window --------------------------------------


async def test_429_storm_with_retry_after_30_gets_one_request_per_window(server: ProviderServer) -> None:
    """Interval 50 ms (fake clock, real HTTP): the throttled key is asked once; the others
    keep going."""
    old, new = (CANARY_OLD, CANARY_NEW) if server.flavour == ANTHROPIC else (CANARY_OPENAI, CANARY_NEW)
    server.add_key(old)
    server.add_key(new)
    server.serving = new
    server.retry_after = "30"
    server.always("models", lambda req: 429 if new in req.headers.get("x-api-key", "") +
                  req.headers.get("authorization", "") else None)
    async with engine_on(server, old, new, clock=HttpFakeClock(), interval=0.05,
                         timeout=SURE) as run:
        await run.advance(1.5)
        throttled = run.probed(Role.NEW)
        steady = run.probed(Role.OLD)
    assert [p.result.verdict for p in throttled] == [Verdict.THROTTLED]
    assert throttled[0].result.retry_after == 30.0
    assert len(steady) >= 10  # a throttled target never slows another
    new_hits = [r for r in server.hits("models") if new in r.headers.get("x-api-key", "")
                + r.headers.get("authorization", "")]
    assert len(new_hits) == 1


async def test_429_storm_over_ten_minutes_on_a_fake_clock() -> None:
    """Ten compressed minutes of a provider that always says 429, retry-after: 30."""
    clock = FakeClock(start=0.0)
    asked: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(clock.now())
        return httpx.Response(429, headers={"retry-after": "30"},
                              json={"type": "error", "error": {"type": "rate_limit_error",
                                                               "message": "slow down"}})

    provider = provider_by_name(ANTHROPIC, "https://api.anthropic.test",
                                transport=httpx.MockTransport(handler))
    results: list[ProbeResult] = []
    async with open_client(provider) as client:
        scheduler = Scheduler(lambda role, result: results.append(result), clock)
        scheduler.add(Target("new", lambda: provider.probe(client, Secret(CANARY_NEW), 1.0), 2.0))
        for _ in range(600):
            await clock.advance(1.0)
        await scheduler.stop()
    assert all(r.verdict is Verdict.THROTTLED for r in results)
    assert 19 <= len(asked) <= 21  # 600 s / 30 s, never 300 (600 s / 2 s interval)
    assert min(gaps(asked)) >= 30.0 - 1e-9


async def test_429_without_retry_after_backs_off_exponentially(server: ProviderServer) -> None:
    server.retry_after = None
    server.always("models", 429)
    old = KEY[server.flavour]
    async with engine_on(server, old, None, clock=HttpFakeClock(), deployment=False,
                         interval=0.05, timeout=SURE) as run:
        await run.advance(1.6)
        times = run.probe_times(Role.OLD)
    # 50 ms cadence would be ~32 probes; doubling waits (0.1, 0.2, 0.4, 0.8 s) allow ~5.
    assert 3 <= len(times) <= 6
    # The n-th wait is at least interval * 2**n (ticks round it up to the cadence).
    for n, gap in enumerate(gaps(times), start=1):
        assert gap >= 0.05 * 2**n - 0.02


async def test_short_retry_after_is_honoured_exactly(server: ProviderServer) -> None:
    server.retry_after = "0.4"
    server.always("models", 429)
    async with engine_on(server, KEY[server.flavour], None, clock=HttpFakeClock(),
                         deployment=False, interval=0.05, timeout=SURE) as run:
        await run.advance(1.5)
        times = run.probe_times(Role.OLD)  # when each request went out (a probe: one request)
        asked = server.hits("models")
    assert len(asked) == len(times)
    assert 3 <= len(times) <= 5  # ~1.5 / 0.4 + 1, not 30
    assert min(gaps(times)) >= 0.4 - 0.02


# -- bursts of server errors: indeterminate never means rejected ---------------------------


BURST = [500, 500, 502, 502, 503, 503, 529, 529, 429, "slow", "reset_mid_body", "html_502"]


async def test_server_error_bursts_never_confirm_a_revocation(server: ProviderServer) -> None:
    """After revoke, only real refusals count: a burst of 5xx/429/timeouts proves nothing."""
    old = CANARY_OLD if server.flavour == ANTHROPIC else CANARY_OPENAI
    new = CANARY_NEW
    server.add_key(old)
    server.add_key(new)
    server.serving = new
    server.admin_key = CANARY_ADMIN
    server.retry_after = "0.05"
    server.slow_seconds = 0.5
    async with engine_on(server, old, new, admin=CANARY_ADMIN, clock=HttpFakeClock(),
                         interval=0.1, timeout=0.3, streak=3) as run:
        assert await run.until(lambda: run.engine.can_revoke, 5.0)
        # The burst hits only the old key's probes, from the moment it is revoked.
        burst = list(BURST)

        def old_key_burst(req):
            sent = req.headers.get("x-api-key", "") + req.headers.get("authorization", "")
            if old in sent and burst:
                return burst.pop(0)
            return None

        server.always("models", old_key_burst)
        await run.engine.revoke()
        assert run.engine.phase is Phase.VERIFYING
        assert await run.until(lambda: run.engine.phase is Phase.DONE, 10.0)
        after = [p.result for p in run.probed(Role.OLD)
                 if p.result.at >= run.engine.clock.now() - 60][-(len(BURST) + 3):]
    verdicts = [r.verdict for r in after]
    # Every burst answer was indeterminate or unexpected, never rejected ...
    assert Verdict.REJECTED not in verdicts[: len(BURST)]
    assert all(v.indeterminate for v in verdicts[: len(BURST) - 1])
    # ... and revocation was confirmed only by `streak` real refusals after the burst.
    assert verdicts[-3:] == [Verdict.REJECTED] * 3
    assert len(server.admin_writes()) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_a_burst_keeps_the_gate_shut_then_it_rebuilds(server: ProviderServer, status: int) -> None:
    old, new = CANARY_OLD, CANARY_NEW
    server.add_key(old)
    server.add_key(new)
    server.serving = new
    async with engine_on(server, old, new, clock=HttpFakeClock(), interval=0.05, timeout=SURE,
                         streak=3) as run:
        assert await run.until(lambda: run.engine.gate.open, 5.0)
        server.script("deployment", *[Reply(503, {}, b'{"ok": false, "status": %d}' % status)] * 4)
        assert await run.until(lambda: not run.engine.gate.open, 2.0)
        assert not run.engine.can_revoke
        assert await run.until(lambda: run.engine.gate.open, 5.0)
        deployment = [p.result.verdict for p in run.probed(Role.DEPLOYMENT)]
    assert Verdict.UNAVAILABLE in deployment
    assert Verdict.REJECTED not in deployment
    assert math.isfinite(len(deployment))


# -- URLs httpx cannot send to, and admin writes whose answer never came -------------------


async def test_a_url_httpx_cannot_build_is_unexpected_not_a_crash(server: ProviderServer) -> None:
    result, _ = await probe_at(server.flavour, "http://xn--zz", KEY[server.flavour])
    assert result.verdict is Verdict.UNEXPECTED
    assert result.detail == "invalid URL in base_url (IDNAError)"
    target = DeploymentTarget("http://xn--zz/health", provider_at(server.flavour, server.url))
    async with open_client(target.provider) as client:
        deployed = await target.probe(client, None, 1.0)
    assert deployed.verdict is Verdict.UNEXPECTED
    assert "deployment" in deployed.detail


async def test_an_unanswered_admin_write_says_its_outcome_is_unknown(server: ProviderServer) -> None:
    from providers.errors import AdminError

    server.admin_key = CANARY_ADMIN
    old = server.add_key(CANARY_OLD)
    server.slow_seconds = 0.6
    server.always("admin", lambda req: "slow" if req.method in ("POST", "DELETE") else None)
    provider = provider_by_name(server.flavour, server.base_url,
                                **({"project_id": server.project_id}
                                   if server.flavour == OPENAI else {}))
    async with open_client(provider) as client:
        found = await provider.find_admin_key(client, Secret(CANARY_ADMIN), Secret(CANARY_OLD), 1.0)
        assert found.id == old.id
        with pytest.raises(AdminError, match="may or may not have been made"):
            await provider.deactivate(client, Secret(CANARY_ADMIN), found.id, 0.3)
    # Which is why: the provider did make the change after keyturn stopped waiting.
    assert await asyncio.to_thread(server.wait_finished, len(server.hits()))
    assert old.status in ("inactive", "deleted")


async def test_terminal_escapes_in_a_provider_message_are_dropped(server: ProviderServer) -> None:
    """A hostile proxy's error message must not clear, retitle or recolour the terminal."""
    hostile = "\x1b[2J\x1b]0;owned\x07bad \x1b[31mkey\x1b[0m\r\nsecond line\x00"
    body = (b'{"type": "error", "error": {"type": "authentication_error", "message": "%s"}}'
            if server.flavour == ANTHROPIC else b'{"error": {"message": "%s", "type": "x"}}')
    server.script("models", Reply(401, {}, body.replace(b"%s", json_escape(hostile))))
    result, _ = await probe(server)
    assert result.verdict is Verdict.REJECTED
    assert "bad" in result.detail and "second line" in result.detail
    assert all(ch.isprintable() for ch in result.detail), repr(result.detail)


def json_escape(text: str) -> bytes:
    import json

    return json.dumps(text)[1:-1].encode()


async def test_a_rate_limited_deployment_is_throttled_and_backed_off(server: ProviderServer) -> None:
    """The deployment's own host answers 429 (no probe-contract JSON): no evidence either way."""
    server.retry_after = "0.5"
    server.always("deployment", lambda req: Reply(429, {"retry-after": "0.5",
                                                         "content-type": "text/html"},
                                                   b"<html>Too Many Requests</html>"))
    server.add_key(CANARY_OLD)
    async with engine_on(server, CANARY_OLD, None, clock=HttpFakeClock(), interval=0.05,
                         timeout=SURE) as run:
        await run.advance(1.2)
        deployed = [p.result for p in run.probed(Role.DEPLOYMENT)]
    assert deployed and all(r.verdict is Verdict.THROTTLED for r in deployed)
    assert deployed[0].retry_after == 0.5
    assert len(deployed) <= 4  # every 0.5 s, not every 50 ms


async def test_the_shared_client_recovers_after_every_fault(server: ProviderServer) -> None:
    """One client for the whole run: a fault on one probe never poisons the next one."""
    server.add_key(KEY[server.flavour])
    server.trickle_every = 0.02
    server.slow_seconds = 0.5
    provider = provider_at(server.flavour, server.url)
    faults = ["trickle_headers", "slow", "reset_mid_body", "close", "huge_body", "truncated_json",
              "html_502", 529]
    server.huge_size = 4 * 1024 * 1024
    async with open_client(provider) as client:
        for fault in faults:
            server.script("models", fault)
            broken = await provider.probe(client, Secret(KEY[server.flavour]), 0.3)
            assert broken.verdict is not Verdict.LIVE, fault
            healthy = await provider.probe(client, Secret(KEY[server.flavour]), 1.0)
            assert healthy.verdict is Verdict.LIVE, (fault, healthy.detail)
    # Faults cost a fresh connection at most each; healthy probes reuse them.
    assert server.connections <= len(faults) + 1
