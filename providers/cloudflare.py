"""Cloudflare's API for a Worker: write a secret, read which versions take its traffic.

Three calls, each one request with an overall deadline, a capped body and no redirects
(the token goes only to the configured API host):

- `PUT  {api}/client/v4/accounts/{account}/workers/scripts/{script}/secrets`
- `GET  {api}/client/v4/accounts/{account}/workers/scripts/{script}/deployments`
  (the first deployment listed is the one serving traffic)
- `GET  {api}/client/v4/accounts/{account}/workers/scripts/{script}/versions/{id}`

Every answer comes in Cloudflare's envelope `{"success", "errors": [{"code", "message"}],
"messages", "result"}`. What Cloudflare (or a proxy in front of it) says is cleaned and
scrubbed of the token and the key before anyone sees it; `cf-ray` is the request id.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from providers.body import looks_like_html, parse_json, read_capped
from providers.lazy import httpx
from providers.text import clean, scrub
from providers.transport import parse_retry_after, safe_request_id, transport_failure

DEFAULT_API = "https://api.cloudflare.com"
#: A version id is sent back to Cloudflare only when it looks like one (a UUID, or hex).
VERSION_ID = re.compile(r"^[0-9A-Za-z-]{8,64}$")
#: Longest platform message kept (one line on a card, in the audit log, on stdout).
MESSAGE_CAP = 240
#: What `workers/triggered_by` says, in words ("deployed 12:03 UTC by a secret change").
TRIGGERS = {
    "secret": "a secret change",
    "upload": "an upload",
    "version_upload": "a version upload",
    "deployment": "a deployment",
    "create_deployment": "a deployment",
    "rollback": "a rollback",
    "promotion": "a promotion",
}


@dataclass(frozen=True)
class Answer:
    """One Cloudflare API answer, safe to show: ok, or the platform's own words."""

    ok: bool
    status: int | None
    #: The platform's word: its error codes and messages, or what went wrong on the way.
    message: str = ""
    #: `cf-ray`: the request id Cloudflare support asks for.
    request_id: str | None = None
    #: No evidence either way (429, 5xx, unreachable): a reading is kept, not replaced.
    indeterminate: bool = False
    retry_after: float | None = None
    #: The platform's clock when it answered (its `Date` header).
    date: datetime | None = None
    result: Any = None


@dataclass(frozen=True)
class Share:
    """A version taking a percentage of a Worker's traffic."""

    version_id: str
    percentage: float
    #: False: the id needed cleaning, and is never sent back to the API.
    plain: bool = True


@dataclass(frozen=True)
class Deployment:
    """A Worker deployment as Cloudflare lists it; every text cleaned."""

    id: str
    created_on: datetime | None
    source: str
    triggered_by: str
    message: str
    shares: tuple[Share, ...]

    @property
    def gradual(self) -> bool:
        """More than one version takes traffic: a gradual deployment in progress."""
        return sum(1 for s in self.shares if s.percentage > 0) > 1

    @property
    def cause(self) -> str:
        """`a secret change`, `an upload`, … (the source when no trigger is given)."""
        trigger = TRIGGERS.get(self.triggered_by, self.triggered_by)
        return trigger or (f"the {self.source}" if self.source else "")


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from Cloudflare (`2026-01-02T03:04:05.123456Z`), aware UTC."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def short_id(version_id: str) -> str:
    """`3f2a1b9c…`: enough of a version id to recognise it."""
    return version_id[:8] + "…" if len(version_id) > 9 else version_id


def scripts_url(api: str, account_id: str, script: str) -> str:
    return f"{api.rstrip('/')}/client/v4/accounts/{account_id}/workers/scripts/{script}"


def _header_date(headers: httpx.Headers) -> datetime | None:
    from email.utils import parsedate_to_datetime  # here: the dashboard starts without it

    try:
        when = parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _errors(payload: dict) -> str:
    """`10007: This Worker does not exist on your account` (at most two, cleaned)."""
    words = []
    for err in payload.get("errors") or ():
        if isinstance(err, dict):
            code, text = err.get("code"), err.get("message")
            part = f"{code}: {text}" if code is not None and text else str(text or code or "")
            words.append(clean(part, 160))
        elif isinstance(err, str):
            words.append(clean(err, 160))
        if len(words) == 2:
            break
    return "; ".join(w for w in words if w)


def interpret(status: int, headers: httpx.Headers, body: bytes) -> Answer:
    """What an answer means, in Cloudflare's own words where it gave any."""
    rid = headers.get("cf-ray")
    date = _header_date(headers)
    payload = parse_json(body)
    envelope = isinstance(payload, dict) and isinstance(payload.get("success"), bool)
    said = _errors(payload) if envelope else ""
    retry_after = parse_retry_after(headers.get("retry-after")) if status == 429 else None
    common = {"status": status, "request_id": rid, "date": date}
    if envelope and payload["success"] and 200 <= status < 300:
        return Answer(True, result=payload.get("result"), **common)
    if not envelope:
        what = "an HTML page (a proxy or a login page?)" if looks_like_html(body) else (
            "no Cloudflare API answer")
        said = f"HTTP {status} with {what}"
    elif 200 <= status < 300:
        said = f"refused (success: false): {said or 'no error given'}"
    else:
        said = f"HTTP {status}: {said or 'no error given'}"
    if status in (401, 403):
        said = f"authentication failed, {said} (check the token and its permissions)"
    elif status == 404:
        said = f"not found, {said} (check account_id and script)"
    elif status == 429:
        wait = f", retry after {retry_after:g} s" if retry_after is not None else ""
        said = f"rate limited{wait}, {said}"
    indeterminate = status == 429 or status >= 500
    return Answer(False, message=said, indeterminate=indeterminate, retry_after=retry_after,
                  **common)


async def call(
    client: httpx.AsyncClient, method: str, url: str, token: str, *, timeout: float,
    body: dict | None = None, secrets: tuple[str, ...] = (),
) -> Answer:
    """One API request: overall deadline, capped body, never a redirect. Every text in
    the answer is cleaned and scrubbed of the token and of `secrets` (the key written)."""
    hidden = (token, *secrets)
    try:
        request = httpx.Request(method, url, json=body, headers={
            "authorization": f"Bearer {token}", "accept": "application/json",
            "accept-encoding": "identity", "user-agent": "keyturn/0.1"})
    except (httpx.InvalidURL, UnicodeError) as exc:
        return Answer(False, None, f"invalid API URL ({type(exc).__name__})")
    status: int | None = None
    try:
        async with asyncio.timeout(timeout):
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                status = response.status_code
                content = await read_capped(response)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TransportError, httpx.TimeoutException, OSError) as exc:
        said = transport_failure(exc)
        if status is not None:
            said = f"HTTP {status}, then {said}"
        return Answer(False, status, scrub(clean(said, MESSAGE_CAP), hidden), indeterminate=True)
    answer = interpret(status, response.headers, content)
    return Answer(
        answer.ok, answer.status, scrub(clean(answer.message, MESSAGE_CAP), hidden),
        safe_request_id(answer.request_id, list(hidden)), answer.indeterminate,
        answer.retry_after, answer.date, answer.result,
    )


async def put_secret(
    client: httpx.AsyncClient, base: str, name: str, raw: str, token: str, timeout: float
) -> Answer:
    """Write `raw` as the Worker's secret `name` (a new version, deployed at once)."""
    body = {"name": name, "text": raw, "type": "secret_text"}
    return await call(client, "PUT", base + "/secrets", token, timeout=timeout, body=body,
                      secrets=(raw,))


def parse_deployment(item: object) -> Deployment | None:
    if not isinstance(item, dict):
        return None
    shares = []
    for version in item.get("versions") or ():
        if not isinstance(version, dict):
            continue
        raw_id, pct = version.get("version_id"), version.get("percentage")
        if not isinstance(raw_id, str) or isinstance(pct, bool) or not isinstance(pct, int | float):
            continue
        shown = clean(raw_id, 64)
        plain = shown == raw_id and bool(VERSION_ID.match(raw_id))
        shares.append(Share(shown, float(pct), plain=plain))
    annotations = item.get("annotations") if isinstance(item.get("annotations"), dict) else {}
    return Deployment(
        id=clean(item.get("id") or "", 64),
        created_on=parse_time(item.get("created_on")),
        source=clean(item.get("source") or "", 40),
        triggered_by=clean(annotations.get("workers/triggered_by") or "", 40),
        message=clean(annotations.get("workers/message") or "", 100),
        shares=tuple(shares),
    )


async def serving_deployment(
    client: httpx.AsyncClient, base: str, token: str, timeout: float
) -> tuple[Answer, Deployment | None]:
    """The deployment serving traffic now (the first listed), with the answer it came in."""
    answer = await call(client, "GET", base + "/deployments", token, timeout=timeout)
    if not answer.ok:
        return answer, None
    result = answer.result
    listed = result.get("deployments") if isinstance(result, dict) else None
    first = parse_deployment(listed[0]) if isinstance(listed, list) and listed else None
    if first is None or not first.shares:
        return Answer(False, answer.status, "the answer lists no deployment with versions",
                      answer.request_id), None
    return answer, first


async def version_created(
    client: httpx.AsyncClient, base: str, share: Share, token: str, timeout: float
) -> tuple[Answer, datetime | None]:
    """When a version was created (its `metadata.created_on`), by the platform's clock."""
    if not share.plain:
        return Answer(False, None, "a version id that needed cleaning is not sent back"), None
    answer = await call(client, "GET", f"{base}/versions/{share.version_id}", token,
                        timeout=timeout)
    result = answer.result if answer.ok else None
    metadata = result.get("metadata") if isinstance(result, dict) else None
    created = parse_time(metadata.get("created_on")) if isinstance(metadata, dict) else None
    if answer.ok and created is None:
        return Answer(False, answer.status, "the version has no creation time",
                      answer.request_id), None
    return answer, created
