"""The provider's own count: its usage report, per API key id, read with the admin key.

Anthropic: `GET /v1/organizations/usage_report/messages` counts tokens per minute (it
counts no requests). OpenAI: `GET {base}/organization/usage/completions` counts model
requests and tokens. Both are asked for one-minute buckets grouped by API key id, for the
OLD and the NEW key's ids only, from a start time on. Pages are followed (`has_more`,
`next_page`) up to MAX_PAGES, every answer is read to at most USAGE_BODY_CAP bytes, and
anything that is not a report of one-minute buckets is refused with a reason a person can
read (UsageUnavailable), never guessed at: a count keyturn cannot read is not a zero.

Arrays go as `group_by[]=…&api_key_ids[]=…`, the form both providers' own SDKs send.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from providers.admin import FIELD_CAP
from providers.body import looks_like_html, parse_json
from providers.errors import AdminError
from providers.text import clean

if TYPE_CHECKING:
    from providers.base import Provider
    from providers.keys import KeyLike
    from providers.lazy import httpx

MINUTE = 60
#: One page of a usage report is read to at most this many bytes (60 minute buckets of two
#: keys are a few KB; a bigger answer is not the report keyturn asked for).
USAGE_BODY_CAP = 1024 * 1024
#: Pages read at most per read; a report that keeps saying `has_more` is read this far.
MAX_PAGES = 10
#: Buckets asked for per page (both providers allow up to 1440 one-minute buckets).
BUCKETS_PER_PAGE = 60
#: The largest count believed: more than this in a minute is not a count.
MAX_COUNT = 10**15
#: Longest `next_page` token sent back.
TOKEN_CAP = 2048

ANTHROPIC_USAGE = "/v1/organizations/usage_report/messages"
OPENAI_USAGE = "/organization/usage/completions"


@dataclass(frozen=True)
class ReportClock:
    """The UTC time the report is kept in, and how many of its seconds pass per second of
    the engine's clock: 1 on the network; the simulated world runs a report minute a second."""

    now: Callable[[], float] = time.time
    speed: float = 1.0


class UsageUnavailable(Exception):
    """The usage report could not be read; the message says why and is safe to show."""

    def __init__(self, message: str, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class Count:
    """What the provider counted for one key in one minute."""

    #: Model requests; None where the provider counts none (Anthropic counts tokens only).
    requests: int | None
    tokens: int

    def __add__(self, other: Count) -> Count:
        requests = (None if self.requests is None or other.requests is None
                    else self.requests + other.requests)
        return Count(requests, self.tokens + other.tokens)


@dataclass(frozen=True)
class UsageReport:
    """One read of the report: counts by minute start (UTC seconds) and key id."""

    unit: str  # "requests" or "tokens": what a minute is shown in
    minutes: dict[int, dict[str, Count]] = field(default_factory=dict)
    #: The end of the last bucket the report returned (None: it returned no bucket).
    last_end: int | None = None
    pages: int = 0
    #: True when paging stopped at MAX_PAGES (or a repeated token) with more to read.
    partial: bool = False


def rfc3339(ts: float) -> str:
    """`2026-01-05T12:04:00Z` for UTC seconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count(value: Any) -> int:
    """A count from the report; BadReport for anything that is not a whole number >= 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadReport("a count that is not a number")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise BadReport("a count that is not a whole number")
    if not 0 <= value <= MAX_COUNT:
        raise BadReport("a count out of range")
    return int(value)


class BadReport(Exception):
    """The answer is JSON but not a usage report of minute buckets."""


class Dialect:
    """How one provider asks for its report and writes its buckets."""

    path: str = ""
    unit: str = "tokens"

    def params(self, key_ids: Sequence[str], since: int) -> list[tuple[str, str]]:
        raise NotImplementedError

    def bucket_span(self, bucket: dict[str, Any]) -> tuple[int, int | None]:
        raise NotImplementedError

    def count(self, result: dict[str, Any]) -> Count:
        raise NotImplementedError


class AnthropicUsage(Dialect):
    path = ANTHROPIC_USAGE
    unit = "tokens"

    def params(self, key_ids: Sequence[str], since: int) -> list[tuple[str, str]]:
        return [("starting_at", rfc3339(since)), ("bucket_width", "1m"),
                ("group_by[]", "api_key_id"), ("limit", str(BUCKETS_PER_PAGE)),
                *(("api_key_ids[]", key_id) for key_id in key_ids)]

    def bucket_span(self, bucket: dict[str, Any]) -> tuple[int, int | None]:
        start = _parse_time(bucket.get("starting_at"))
        end = bucket.get("ending_at")
        return start, None if end is None else _parse_time(end)

    def count(self, result: dict[str, Any]) -> Count:
        tokens = sum(_count(result.get(name)) for name in (
            "uncached_input_tokens", "cache_read_input_tokens", "output_tokens"))
        creation = result.get("cache_creation")
        if isinstance(creation, dict):
            tokens += sum(_count(creation.get(name)) for name in (
                "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"))
        else:  # the same two counts, flat, as some descriptions of the report show them
            tokens += sum(_count(result.get(name)) for name in (
                "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens"))
        return Count(None, tokens)


class OpenAIUsage(Dialect):
    path = OPENAI_USAGE
    unit = "requests"

    def params(self, key_ids: Sequence[str], since: int) -> list[tuple[str, str]]:
        return [("start_time", str(since)), ("bucket_width", "1m"),
                ("group_by[]", "api_key_id"), ("limit", str(BUCKETS_PER_PAGE)),
                *(("api_key_ids[]", key_id) for key_id in key_ids)]

    def bucket_span(self, bucket: dict[str, Any]) -> tuple[int, int | None]:
        start = _unix(bucket.get("start_time"))
        end = bucket.get("end_time")
        return start, None if end is None else _unix(end)

    def count(self, result: dict[str, Any]) -> Count:
        if "num_model_requests" not in result:
            raise BadReport("a result without num_model_requests")
        # input_tokens already includes the cached ones (input_cached_tokens is a part of it).
        return Count(_count(result.get("num_model_requests")),
                     _count(result.get("input_tokens")) + _count(result.get("output_tokens")))


def _parse_time(value: Any) -> int:
    if not isinstance(value, str) or len(value) > 64:
        raise BadReport("a bucket without a readable start time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadReport("a bucket without a readable start time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def _unix(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**11:
        raise BadReport("a bucket without a readable start time")
    return value


def dialect_for(provider: Provider) -> Dialect | None:
    """The report dialect of a provider; None when keyturn reads no report for it."""
    from providers.anthropic import AnthropicProvider
    from providers.openai import OpenAIProvider

    if isinstance(provider, OpenAIProvider):
        return OpenAIUsage()
    if isinstance(provider, AnthropicProvider):  # the simulated provider too
        return AnthropicUsage()
    return None


@dataclass
class Page:
    """What one page added: the end of its last bucket, whether its results named key
    ids (or only came unsplit), and the token of the next page (None: the last page)."""

    last_end: int | None = None
    named: bool = False
    unsplit: bool = False
    next_page: str | None = None
    #: `has_more` without a usable `next_page`: the rest cannot be read.
    cut: bool = False


def parse_page(dialect: Dialect, payload: Any, key_ids: Sequence[str],
               into: dict[int, dict[str, Count]], since: int = 0,
               until: int | None = None) -> Page:
    """Add one page's buckets to `into`. BadReport when it is not a report of minutes.

    Buckets outside [since, until) are left out: a minute before the one asked for, or one
    that has not begun (a provider's clock gone wrong must not stretch the report over
    years, or push real minutes out with empty future ones).
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise BadReport("not a usage report")
    wanted = set(key_ids)
    page = Page()
    for bucket in payload["data"]:
        if not isinstance(bucket, dict):
            raise BadReport("a bucket that is not an object")
        start, end = dialect.bucket_span(bucket)
        if end is not None and end - start != MINUTE:
            raise BadReport(f"buckets of {end - start} s, not one minute")
        start -= start % MINUTE
        if start < since or (until is not None and start >= until):
            continue
        results = bucket.get("results")
        if not isinstance(results, list):
            raise BadReport("a bucket without results")
        # A bucket seen again (a page served twice) replaces itself: nothing counts twice.
        minute: dict[str, Count] = {}
        into[start] = minute
        for result in results:
            if not isinstance(result, dict):
                raise BadReport("a result that is not an object")
            key_id = result.get("api_key_id")
            if key_id is None:
                page.unsplit = True  # not split by key: nothing to say about either key
                continue
            page.named = True
            key_id = clean(key_id, FIELD_CAP)
            if key_id not in wanted:
                continue  # a key keyturn did not ask about (a filter the provider ignored)
            count = dialect.count(result)
            minute[key_id] = minute[key_id] + count if key_id in minute else count
        page.last_end = max(page.last_end or 0, start + MINUTE)
    token = payload.get("next_page")
    if payload.get("has_more") is True:
        if isinstance(token, str) and 0 < len(token) <= TOKEN_CAP:
            page.next_page = token
        else:
            page.cut = True  # more to read, and no way to ask for it
    return page


async def read_usage(
    provider: Provider,
    client: httpx.AsyncClient,
    admin: KeyLike,
    key_ids: Sequence[str],
    since: int,
    timeout: float,
    now: float | None = None,
) -> UsageReport:
    """The report for `key_ids` from `since` (UTC seconds, a minute start) to `now` (the
    report's clock; default the system's): buckets outside that span are left out.

    `timeout` is each page's deadline. UsageUnavailable, with the reason in words (and the
    provider's `retry-after`, when it sent one), for anything but a readable report.
    """
    dialect = dialect_for(provider)
    if dialect is None:
        raise UsageUnavailable(f"{provider.name} has no usage report keyturn reads")
    minutes: dict[int, dict[str, Count]] = {}
    until = int((time.time() if now is None else now) // MINUTE * MINUTE) + MINUTE
    last_end: int | None = None
    named = unsplit = partial = False
    seen: set[str] = set()
    token: str | None = None
    pages = 0
    while True:
        params = dialect.params(key_ids, since) + ([("page", token)] if token else [])
        try:
            response = await provider.admin_request(
                client, admin, "GET", dialect.path, timeout, cap=USAGE_BODY_CAP, params=params)
        except AdminError as exc:
            raise UsageUnavailable(str(exc), exc.retry_after, exc.status) from None
        pages += 1
        body = response.content
        if len(body) >= USAGE_BODY_CAP:
            raise UsageUnavailable(
                f"the answer is larger than {USAGE_BODY_CAP // 1024} KiB; keyturn reads no more")
        if looks_like_html(body):
            raise UsageUnavailable("the admin API answered an HTML page, not a usage report")
        payload = parse_json(body)
        if payload is None:
            raise UsageUnavailable("the answer is not JSON (cut short?)")
        try:
            page = parse_page(dialect, payload, key_ids, minutes, since, until)
        except BadReport as exc:
            raise UsageUnavailable(f"the answer is not a usage report of minutes: {exc}") from None
        named, unsplit = named or page.named, unsplit or page.unsplit
        if page.last_end is not None:
            last_end = max(last_end or 0, page.last_end)
        token = page.next_page
        if page.cut:
            partial = True
        if token is None:
            break
        if token in seen or pages >= MAX_PAGES:
            partial = True
            break
        seen.add(token)
    if unsplit and not named:
        raise UsageUnavailable("the report is not split by API key (group_by ignored)")
    return UsageReport(dialect.unit, minutes, last_end, pages, partial)
