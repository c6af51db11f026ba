"""The shape every provider shares: verdicts, probe results, the probe itself, admin errors.

A provider is three things: a request builder (how to ask "is this key good?"),
a classifier (what the answer means, as a Verdict), and optionally admin calls
(find, deactivate, reactivate a key). The probe loop around them lives here once,
so every provider times out, caps bodies and refuses redirects the same way.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from providers.keys import fingerprint  # noqa: F401  (re-exported)
from providers.lazy import httpx

#: A probe reads at most this much of a response body: the answers we classify are small.
BODY_CAP = 64 * 1024
#: Admin key lists are bigger (100 records a page) but still bounded.
ADMIN_BODY_CAP = 4 * 1024 * 1024
#: Longest request id kept: it is shown and logged, so a hostile header cannot flood either.
REQUEST_ID_CAP = 128


class KeyLike(Protocol):
    """What a provider needs of a credential: the raw value (only to build a header)."""

    @property
    def fingerprint(self) -> str: ...

    def reveal(self) -> str: ...


class Verdict(StrEnum):
    """The class of a probe's result (DESIGN.md: verdicts)."""

    LIVE = "live"
    REJECTED = "rejected"
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    UNREACHABLE = "unreachable"
    UNEXPECTED = "unexpected"

    @property
    def indeterminate(self) -> bool:
        """No evidence either way: never proof that a key is live or dead."""
        return self in INDETERMINATE


INDETERMINATE = frozenset({Verdict.THROTTLED, Verdict.UNAVAILABLE, Verdict.UNREACHABLE})


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe's outcome, safe to show and log (no key material)."""

    verdict: Verdict
    status: int | None = None
    latency_ms: float = 0.0
    request_id: str | None = None
    detail: str = ""
    retry_after: float | None = None
    #: Deployment probes: the fingerprint of the key the deployment says it serves.
    served_fingerprint: str | None = None
    #: Monotonic time the probe finished (set by the probe loop).
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Classified:
    """What a classifier decides from a response, before timing is added."""

    verdict: Verdict
    detail: str = ""
    served_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class AdminKey:
    """A key record from a provider's admin API (never the raw key)."""

    id: str
    hint: str
    status: str = "active"
    name: str = ""


@dataclass(frozen=True, slots=True)
class AdminReceipt:
    """Proof of an admin call: what was changed and the provider's request id."""

    key_id: str
    action: str
    status: int
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AdminResponse:
    """An admin API answer with its body read (capped): what admin calls look at."""

    status_code: int
    headers: httpx.Headers
    content: bytes


class AdminError(Exception):
    """An admin call could not be made or was refused; the message is safe to show."""


class AdminUnsupported(AdminError):
    """The provider has no admin call for this action (e.g. OpenAI cannot reactivate)."""


def parse_json(body: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (HTML error pages, truncation)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[…" bodies
        return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a retry-after header (delta-seconds form); None when absent or odd."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, 3600.0)


def short(text: str, limit: int = 160) -> str:
    """One line, bounded: provider messages are shown, never allowed to flood a screen.

    Control characters are dropped: a provider's message or header must not be able to
    move the cursor, retitle or clear the user's terminal (ANSI escapes).
    """
    line = " ".join(str(text).split())
    line = "".join(ch for ch in line if ch.isprintable())
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def read_capped(response: httpx.Response, cap: int = BODY_CAP) -> bytes:
    """Read at most `cap` bytes of a streamed body; the rest is never downloaded.

    A gzip/deflate body (some proxies compress whatever was asked) is inflated here, to at
    most `cap` bytes as well, so a small compressed bomb cannot grow past the cap either.
    An encoding we cannot inflate gives an empty body (classified as not what the provider sends).
    """
    try:
        return response.content[:cap]  # already in memory (in-process transports)
    except httpx.ResponseNotRead:
        pass
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
    elif encoding not in ("", "identity"):
        return b""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, cap - size)
            except zlib.error:
                break
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap or (inflater is not None and inflater.unconsumed_tail):
            break
    return b"".join(chunks)[:cap]


def secrets_in(headers: httpx.Headers) -> list[str]:
    """The credential values a request carries (x-api-key, a bearer token)."""
    found = []
    if headers.get("x-api-key"):
        found.append(headers["x-api-key"])
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        found.append(auth[7:].strip())
    return found


def scrub(text: str | None, secrets: list[str]) -> str | None:
    """`text` with every secret, and every 12-character piece of one, starred out.

    Providers and gateways sometimes quote the key they were sent in an error message;
    what a probe keeps for display must never carry it.
    """
    if not text or not secrets:
        return text
    for raw in secrets:
        if len(raw) < 8:
            continue
        text = text.replace(raw, "****")
        if not shares_piece(text, raw):
            continue  # the usual answer, checked the cheap way round (runs on every probe)
        for i in range(len(raw) - 11):
            piece = raw[i : i + 12]
            if piece in text:
                text = text.replace(piece, "****")
    return text


def shares_piece(text: str, raw: str, size: int = 12) -> bool:
    """Whether `text` holds any `size`-character piece of `raw`, looping over the shorter
    of the two: a request id or "authenticated" has a few windows, a key ~90 pieces."""
    if len(text) < size or len(raw) < size:
        return False
    if len(text) <= len(raw):
        return any(text[i : i + size] in raw for i in range(len(text) - size + 1))
    return any(raw[i : i + size] in text for i in range(len(raw) - size + 1))


def transport_failure(exc: BaseException) -> str:
    """A short, key-free description of a network failure."""
    if isinstance(exc, (asyncio.TimeoutError, httpx.TimeoutException)):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "certificate" in text or "ssl" in text or "tls" in text:
            return "TLS error: " + short(str(exc), 100)
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text or (
            "name resolution" in text
        ):
            return "DNS: host does not resolve"
        return "connection failed: " + short(str(exc), 100)
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed mid-answer"
    if isinstance(exc, (httpx.ReadError, ConnectionResetError)):
        return "connection reset mid-answer"
    message = short(str(exc), 100)
    if isinstance(exc, (httpx.TransportError, OSError)) and message:
        return type(exc).__name__ + ": " + message
    return type(exc).__name__


@dataclass
class Provider:
    """Base of every provider: subclasses set the request and the classification."""

    base_url: str = ""
    name: str = "provider"
    #: The httpx transport to send through, when the provider is not on the network (simulated).
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)
    supports_reactivate: bool = False

    # -- what subclasses define -------------------------------------------------
    def probe_request(self, key: KeyLike) -> httpx.Request:
        raise NotImplementedError

    def classify(self, status: int, headers: httpx.Headers, body: bytes) -> Classified:
        raise NotImplementedError

    def verdict_for_status(self, status: int) -> Verdict:
        """The verdict a bare status code means for this provider (used by deployments)."""
        if 200 <= status < 300:
            return Verdict.LIVE
        if status == 401:
            return Verdict.REJECTED
        if status == 429:
            return Verdict.THROTTLED
        if status >= 500:
            return Verdict.UNAVAILABLE
        return Verdict.UNEXPECTED

    def request_id(self, headers: httpx.Headers) -> str | None:
        return headers.get("request-id") or headers.get("x-request-id")

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def auth_headers(self, key: KeyLike) -> dict[str, str]:
        """The headers that carry a key; the only place a raw key is read."""
        raise NotImplementedError

    async def admin_request(
        self,
        client: httpx.AsyncClient,
        admin: KeyLike,
        method: str,
        path: str,
        timeout: float,
        **kwargs: Any,
    ) -> AdminResponse:
        """One admin API call; any failure becomes an AdminError with a safe message.

        `timeout` is an overall deadline (connect, headers and a capped body together), as
        for probes, and redirects are never followed: the admin key goes to base_url only.
        """
        headers = self.auth_headers(admin)
        secrets = secrets_in(httpx.Headers(headers))
        try:
            request = client.build_request(method, self.url(path), headers=headers, **kwargs)
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise AdminError(f"invalid URL in base_url ({type(exc).__name__})") from None
        request.headers["accept-encoding"] = "identity"
        try:
            async with asyncio.timeout(timeout):
                streamed = await client.send(request, stream=True, follow_redirects=False)
                try:
                    body = await read_capped(streamed, ADMIN_BODY_CAP)
                finally:
                    await streamed.aclose()
        except (TimeoutError, httpx.TransportError, OSError) as exc:
            unknown = ""
            if method != "GET" and not isinstance(exc, httpx.ConnectError):
                # The request may have reached the provider: say so rather than "failed".
                unknown = "; the change may or may not have been made: check the console"
            raise AdminError(f"admin API unreachable: {transport_failure(exc)}{unknown}") from None
        response = AdminResponse(streamed.status_code, streamed.headers, body)
        if response.status_code >= 300:
            message = error_message(parse_json(response.content)) or f"HTTP {response.status_code}"
            rid = self.request_id(response.headers)
            raise AdminError(scrub(
                f"admin API refused {method} ({response.status_code}): {message}"
                + (f" [request id {short(rid, REQUEST_ID_CAP)}]" if rid else ""), secrets
            ))
        return response

    async def list_admin_pages(
        self,
        client: httpx.AsyncClient,
        admin: KeyLike,
        path: str,
        timeout: float,
        params: dict[str, str],
        cursor_param: str,
        hint_field: str,
    ) -> list[AdminKey]:
        """Every record of a paginated key list (`data`, `has_more`, `last_id`)."""
        keys: list[AdminKey] = []
        after: str | None = None
        for _ in range(100):  # bound: 100 pages
            page = dict(params, limit="100")
            if after:
                page[cursor_param] = after
            response = await self.admin_request(client, admin, "GET", path, timeout, params=page)
            payload = parse_json(response.content)
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
                raise AdminError("admin API answered something that is not a key list")
            for record in payload["data"]:
                if isinstance(record, dict) and "id" in record:
                    keys.append(
                        AdminKey(
                            id=str(record["id"]),
                            hint=str(record.get(hint_field) or ""),
                            status=str(record.get("status") or "active"),
                            name=str(record.get("name") or ""),
                        )
                    )
            if not payload.get("has_more") or not payload.get("last_id"):
                break
            after = str(payload["last_id"])
        return keys

    async def list_admin_keys(
        self, client: httpx.AsyncClient, admin: KeyLike, timeout: float
    ) -> list[AdminKey]:
        raise AdminUnsupported(f"{self.name} has no admin API in keyturn")

    # -- admin (optional) -------------------------------------------------------
    async def find_admin_key(
        self, client: httpx.AsyncClient, admin: KeyLike, key: KeyLike, timeout: float
    ) -> AdminKey:
        """The one admin record whose hint fits `key`; refuses when zero or several fit."""
        raw = key.reveal()
        keys = await self.list_admin_keys(client, admin, timeout)
        matches = [k for k in keys if hint_matches(k.hint, raw)]
        if not matches:
            raise AdminError(
                f"no active key matches key {key.fingerprint} ({len(keys)} listed); refusing to guess"
            )
        if len(matches) > 1:
            ids = ", ".join(m.id for m in matches)
            raise AdminError(
                f"{len(matches)} keys match key {key.fingerprint} ({ids}); refusing to guess"
            )
        return matches[0]

    async def deactivate(
        self, client: httpx.AsyncClient, admin: KeyLike, key_id: str, timeout: float
    ) -> AdminReceipt:
        raise AdminUnsupported(f"{self.name} has no admin API in keyturn")

    async def reactivate(
        self, client: httpx.AsyncClient, admin: KeyLike, key_id: str, timeout: float
    ) -> AdminReceipt:
        raise AdminUnsupported(f"{self.name} cannot reactivate a key")

    # -- the probe loop, shared -------------------------------------------------
    async def probe(
        self, client: httpx.AsyncClient, key: KeyLike | None, timeout: float
    ) -> ProbeResult:
        """Send one probe and classify it; never raises for network or provider trouble."""
        try:
            request = self.probe_request(key)  # type: ignore[arg-type]
        except (httpx.InvalidURL, UnicodeError) as exc:
            return invalid_url(exc, "base_url")
        return await send_probe(client, request, timeout, self.classify, self.request_id)


async def send_probe(
    client: httpx.AsyncClient,
    request: httpx.Request,
    timeout: float,
    classify: Any,
    request_id_of: Any,
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
        verdict = Verdict.UNREACHABLE
        detail = transport_failure(exc)
        if status is not None:
            # Headers arrived but the body did not: the server answered something.
            detail = f"HTTP {status}, then " + detail
        return ProbeResult(
            verdict, status, latency, scrub(rid and short(rid, REQUEST_ID_CAP), secrets),
            scrub(detail, secrets) or "", at=time.monotonic()
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
        scrub(rid and short(rid, REQUEST_ID_CAP), secrets),
        scrub(classified.detail, secrets) or "",
        retry_after,
        classified.served_fingerprint,
        at=time.monotonic(),
    )


def invalid_url(exc: BaseException, setting: str) -> ProbeResult:
    """A URL httpx cannot send to (bad IDNA label, control character): a misconfiguration."""
    return ProbeResult(
        Verdict.UNEXPECTED, detail=f"invalid URL in {setting} ({type(exc).__name__})",
        at=time.monotonic(),
    )


def error_message(payload: Any) -> str:
    """The provider's own error message from a JSON error body, if there is one."""
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            kind = err.get("type") or err.get("code") or ""
            msg = err.get("message") or ""
            text = f"{kind}: {msg}" if kind and msg else (msg or kind)
            return short(str(text))
        if isinstance(err, str):
            return short(err)
    return ""


def hint_matches(hint: str, raw_key: str) -> bool:
    """Whether a redacted hint like `sk-ant-api03-R2D...igAA` fits the key."""
    for sep in ("...", "…", "**"):
        if sep in hint:
            head, _, tail = hint.partition(sep)
            tail = tail.lstrip(sep[0])
            return (
                bool(head or tail)
                and raw_key.startswith(head)
                and raw_key.endswith(tail)
                and len(raw_key) >= len(head) + len(tail)
            )
    return False


def classify_models_answer(
    status: int, body: bytes, *, rejected_404: bool = False
) -> Classified:
    """Classify a `/models` answer; Anthropic and OpenAI differ only in 404 for disabled keys."""
    payload = parse_json(body)
    message = error_message(payload)
    if 200 <= status < 300:
        if not (isinstance(payload, dict) and isinstance(payload.get("data"), list)):
            what = "an HTML page" if looks_like_html(body) else "a body that is not a model list"
            return Classified(Verdict.UNEXPECTED, f"HTTP {status} with {what}")
        return Classified(Verdict.LIVE, "authenticated")
    if status == 401:
        return Classified(Verdict.REJECTED, message or "401 unauthorized")
    if status == 404 and rejected_404:
        # A disabled key answers 404 with the provider's error body; a wrong URL behind
        # a proxy answers 404 with something else, which is a misconfiguration.
        if isinstance(payload, dict) and payload.get("type") == "error":
            return Classified(Verdict.REJECTED, message or "404: key disabled")
        return Classified(Verdict.UNEXPECTED, "404 without the provider's error body (check base_url)")
    if status == 429:
        return Classified(Verdict.THROTTLED, message or "rate limited")
    if status >= 500:
        what = message or ("HTML error page" if looks_like_html(body) else f"server error {status}")
        return Classified(Verdict.UNAVAILABLE, f"{status}: {short(what)}")
    if 300 <= status < 400:
        return Classified(
            Verdict.UNEXPECTED, f"redirect {status} not followed (keys go only to base_url)"
        )
    if looks_like_html(body):
        return Classified(Verdict.UNEXPECTED, f"HTTP {status} with an HTML page")
    return Classified(Verdict.UNEXPECTED, message or f"HTTP {status}")


def looks_like_html(body: bytes) -> bool:
    head = body[:200].lstrip().lower()
    return head.startswith(b"<!doctype") or head.startswith(b"<html") or b"<html" in head
