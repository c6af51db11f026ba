"""The probe on the wire: one request with an overall deadline, a capped body, no redirects.

Every provider and the deployment probe send through `send_probe`, so they all time
out, cap bodies and refuse redirects the same way, and what a probe keeps (its detail
and request id) is cleaned and scrubbed of the key it sent, here, once.
"""

from __future__ import annotations

import asyncio
import math
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

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


#: The longest wait a retry-after may ask for (an hour): a hostile header cannot park a probe.
RETRY_AFTER_CAP = 3600.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a retry-after header, in either of its forms (RFC 9110 10.2.3):
    delta-seconds (`30`) or an HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`, read with
    email.utils). None when absent or unreadable; a date in the past is 0."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" or no zone: HTTP-dates are always GMT
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    if math.isnan(seconds) or seconds < 0:
        return None
    return min(seconds, RETRY_AFTER_CAP)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it was raised from or during (httpx wraps httpcore,
    which wraps the socket error), each once."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def transport_failure(exc: BaseException, host: str | None = None, port: int | None = None) -> str:
    """A short, key-free description of a network failure, naming the host it concerns.

    Recognised by the exception types in the chain (socket.gaierror for DNS,
    ssl.SSLError for TLS, ConnectionRefusedError for a closed port), not by their text.
    """
    where = host or "the host"
    at = f"{host}:{port}" if host and port else where
    if isinstance(exc, (asyncio.TimeoutError, httpx.TimeoutException)):
        return f"timed out waiting for {at}"
    if _cause(exc, socket.gaierror) is not None:
        return f"DNS: {where} does not resolve"
    tls = _cause(exc, ssl.SSLError)
    if tls is not None:
        return f"TLS error with {where}: " + clean(tls, 100)
    if _cause(exc, ConnectionRefusedError) is not None:
        return f"connection failed: {at} refused it (nothing listening there?)"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed to {at}: " + clean(exc, 100)
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"connection closed mid-answer by {at}"
    if isinstance(exc, (httpx.ReadError, ConnectionResetError)):
        return f"connection reset mid-answer by {at}"
    message = clean(exc, 100)
    if isinstance(exc, (httpx.TransportError, OSError)) and message:
        return f"{type(exc).__name__} from {where}: {message}"
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
        detail = transport_failure(exc, request.url.host, request.url.port)
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
