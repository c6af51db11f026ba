"""The probe on the wire: one request with an overall deadline, a capped body, no redirects.

Every provider and the deployment probe send through `send_probe`, so they all time
out, cap bodies and refuse redirects the same way, and what a probe keeps (its detail
and request id) is cleaned and scrubbed of the key it sent, here, once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping

from providers.body import read_capped
from providers.lazy import httpx
from providers.results import Classified, ProbeResult, Verdict
from providers.text import clean, scrub

#: Longest request id kept: it is shown and logged, so a hostile header cannot flood either.
REQUEST_ID_CAP = 128
#: Longest probe detail kept (one line on a card, in the audit log, on stdout).
DETAIL_CAP = 240

Classifier = Callable[[int, "httpx.Headers", bytes], Classified]
RequestIdOf = Callable[["httpx.Headers"], "str | None"]


def secrets_in(headers: Mapping[str, str]) -> list[str]:
    """The credential values a request carries (x-api-key, a bearer token)."""
    found = []
    if headers.get("x-api-key"):
        found.append(headers["x-api-key"])
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        found.append(auth[7:].strip())
    return found


def safe_request_id(rid: str | None, secrets: list[str]) -> str | None:
    """A provider's request id as keyturn keeps it: cleaned, capped, scrubbed; None when empty."""
    if not rid:
        return None
    return scrub(clean(rid, REQUEST_ID_CAP), secrets) or None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a retry-after header (delta-seconds form); None when absent or odd."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if math.isnan(seconds) or seconds < 0:
        return None
    return min(seconds, 3600.0)


def transport_failure(exc: BaseException) -> str:
    """A short, key-free description of a network failure."""
    if isinstance(exc, (asyncio.TimeoutError, httpx.TimeoutException)):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "certificate" in text or "ssl" in text or "tls" in text:
            return "TLS error: " + clean(exc, 100)
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text or (
            "name resolution" in text
        ):
            return "DNS: host does not resolve"
        return "connection failed: " + clean(exc, 100)
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed mid-answer"
    if isinstance(exc, (httpx.ReadError, ConnectionResetError)):
        return "connection reset mid-answer"
    message = clean(exc, 100)
    if isinstance(exc, (httpx.TransportError, OSError)) and message:
        return type(exc).__name__ + ": " + message
    return type(exc).__name__


def invalid_url(exc: BaseException, setting: str) -> ProbeResult:
    """A URL httpx cannot send to (bad IDNA label, control character): a misconfiguration."""
    return ProbeResult(
        Verdict.UNEXPECTED, detail=f"invalid URL in {setting} ({type(exc).__name__})",
        at=time.monotonic(),
    )


async def send_probe(
    client: httpx.AsyncClient,
    request: httpx.Request,
    timeout: float,
    classify: Classifier,
    request_id_of: RequestIdOf,
) -> ProbeResult:
    """Send `request` with an overall deadline, read a capped body, classify it.

    The deadline covers connect, headers and body together: a server that trickles
    bytes slower than the timeout still ends in `unreachable` on time. Redirects are
    never followed, so a credential is only ever sent to the configured host.
    """
    started = time.perf_counter()
    status: int | None = None
    rid: str | None = None
    secrets = secrets_in(request.headers)
    # Ask for an uncompressed answer: the body is read capped, byte for byte.
    request.headers.setdefault("accept-encoding", "identity")
    request.headers.setdefault("user-agent", "keyturn/0.1")
    try:
        async with asyncio.timeout(timeout):
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                status = response.status_code
                rid = request_id_of(response.headers)
                body = await read_capped(response)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TransportError, httpx.TimeoutException, OSError) as exc:
        latency = (time.perf_counter() - started) * 1000
        detail = transport_failure(exc)
        if status is not None:
            # Headers arrived but the body did not: the server answered something.
            detail = f"HTTP {status}, then " + detail
        return ProbeResult(
            Verdict.UNREACHABLE, status, latency, safe_request_id(rid, secrets),
            scrub(clean(detail, DETAIL_CAP), secrets), at=time.monotonic(),
        )
    latency = (time.perf_counter() - started) * 1000
    classified = classify(status, response.headers, body)
    retry_after = None
    if classified.verdict is Verdict.THROTTLED:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    return ProbeResult(
        classified.verdict,
        status,
        latency,
        safe_request_id(rid, secrets),
        scrub(clean(classified.detail, DETAIL_CAP), secrets),
        retry_after,
        classified.served_fingerprint,
        at=time.monotonic(),
    )
