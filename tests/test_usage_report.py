"""The usage report client (providers/usage.py) against the loopback Anthropic and OpenAI:
what it asks for, how it pages, and every answer that is not a usage report of minutes
becoming "usage report unavailable (why)" with no key in the why."""

from __future__ import annotations

import json

import pytest

from providers import provider_by_name
from providers.usage import MAX_PAGES, USAGE_BODY_CAP, Count, UsageUnavailable, read_usage
from tests.provider_server import ANTHROPIC, OPENAI, ProviderServer, Reply
from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    CANARY_OPENAI,
    assert_no_canary,
)
from tui.engine.credentials import Secret
from tui.engine.session import open_client

pytest_plugins = ["tests.server_fixtures"]

#: 2026-01-05T12:00:00Z
T0 = 1767614400


def keys(server: ProviderServer) -> tuple[str, str, str]:
    """The OLD and NEW keys on the server (ids known to it), the admin key set."""
    old = CANARY_OLD if server.flavour == ANTHROPIC else CANARY_OPENAI
    server.add_key(old)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    return old, server.key_by_raw(old).id, server.key_by_raw(CANARY_NEW).id


def provider_of(server: ProviderServer):
    extra = {"project_id": server.project_id} if server.flavour == OPENAI else {}
    return provider_by_name(server.flavour, server.base_url, **extra)


async def read(server: ProviderServer, ids: list[str], since: int = T0,
               now: float | None = None):
    provider = provider_of(server)
    async with open_client(provider) as client:
        return await read_usage(provider, client, Secret(CANARY_ADMIN), ids, since, 5.0,
                                now=now)


async def test_pages_are_followed_and_each_key_counted_by_its_id(server: ProviderServer) -> None:
    old, old_id, new_id = keys(server)
    server.usage_to = T0 + 25 * 60
    server.count(old, T0 + 120, requests=41, tokens=8_000)
    server.count(CANARY_NEW, T0 + 1380, requests=7, tokens=900)
    report = await read(server, [old_id, new_id])
    assert report.pages == 3  # 25 minutes, 10 buckets a page
    assert sorted(report.minutes) == list(range(T0, T0 + 25 * 60, 60))
    requests = 41 if server.flavour == OPENAI else None  # Anthropic counts tokens only
    assert report.minutes[T0 + 120] == {old_id: Count(requests, 8_000)}
    assert report.minutes[T0 + 1380] == {new_id: Count(7 if requests else None, 900)}
    assert report.unit == ("requests" if server.flavour == OPENAI else "tokens")
    assert report.last_end == T0 + 25 * 60 and not report.partial
    hits = server.hits("usage")
    assert len(hits) == 3
    for hit in hits:
        pairs = list(hit.pairs)
        assert [v for k, v in pairs if k == "api_key_ids[]"] == [old_id, new_id]
        assert ("group_by[]", "api_key_id") in pairs and ("bucket_width", "1m") in pairs
        sent = hit.headers.get("x-api-key") or hit.headers.get("authorization", "")
        assert sent.endswith(CANARY_ADMIN)  # the admin key, to the admin API only
    start = ("starting_at", "2026-01-05T12:00:00Z") if server.flavour == ANTHROPIC \
        else ("start_time", str(T0))
    assert all(start in hit.pairs for hit in hits)
    assert [dict(h.pairs).get("page") for h in hits] == [None, "page_10", "page_20"]


async def test_the_report_stops_where_the_provider_has_counted_to(
    anthropic_server: ProviderServer,
) -> None:
    old, old_id, new_id = keys(anthropic_server)
    anthropic_server.usage_to = T0 + 7 * 60  # the provider has counted to 12:07
    anthropic_server.count(old, T0 + 8 * 60, tokens=5_000)  # later: not in the report yet
    report = await read(anthropic_server, [old_id, new_id])
    assert report.last_end == T0 + 7 * 60
    assert T0 + 8 * 60 not in report.minutes
    assert report.minutes[T0 + 6 * 60] == {}  # an empty bucket: counted, nothing used


def _page(server: ProviderServer, data: list, has_more: bool = False, next_page=None) -> Reply:
    return Reply(200, {}, json.dumps({"data": data, "has_more": has_more,
                                      "next_page": next_page}).encode())


def _bucket(start: int, width: int, results: list) -> dict:
    from providers.usage import rfc3339

    return {"starting_at": rfc3339(start), "ending_at": rfc3339(start + width), "results": results}


FAULTS = [
    (429, "(429)"),
    (500, "(500)"),
    ("html_200", "HTML page"),
    (502, "(502)"),
    ("truncated_json", "not JSON"),
    ("huge_body", f"larger than {USAGE_BODY_CAP // 1024} KiB"),
    ("reset_mid_body", "unreachable"),
]


@pytest.mark.parametrize("fault,words", FAULTS, ids=[str(f) for f, _ in FAULTS])
async def test_an_answer_that_is_no_usage_report_is_refused_in_words(
    server: ProviderServer, fault: int | str, words: str
) -> None:
    _, old_id, new_id = keys(server)
    server.retry_after = "120"
    server.huge_size = 16 * 1024 * 1024
    server.always("usage", fault)
    with pytest.raises(UsageUnavailable) as caught:
        await read(server, [old_id, new_id])
    assert words in str(caught.value)
    assert caught.value.retry_after == (120.0 if fault == 429 else None)
    assert_no_canary(str(caught.value))
    if fault == "huge_body":  # read to the cap, never the whole answer
        assert server.huge_bytes_sent < server.huge_size


HOSTILE = [
    ("day buckets", [_bucket(T0, 86_400, [])], "buckets of 86400 s, not one minute"),
    ("count as text", [_bucket(T0, 60, [{"api_key_id": "apikey_01000001",
                                         "uncached_input_tokens": "41"}])], "not a number"),
    ("negative count", [_bucket(T0, 60, [{"api_key_id": "apikey_01000001",
                                          "output_tokens": -3}])], "out of range"),
    ("not split by key", [_bucket(T0, 60, [{"api_key_id": None, "output_tokens": 9}])],
     "not split by API key"),
    ("no start time", [{"results": []}], "readable start time"),
]


@pytest.mark.parametrize("data,words", [(d, w) for _, d, w in HOSTILE], ids=[n for n, *_ in HOSTILE])
async def test_a_report_that_is_not_minutes_by_key_is_refused(
    anthropic_server: ProviderServer, data: list, words: str
) -> None:
    _, old_id, new_id = keys(anthropic_server)
    anthropic_server.always("usage", _page(anthropic_server, data))
    with pytest.raises(UsageUnavailable, match=words):
        await read(anthropic_server, [old_id, new_id])


async def test_endless_pages_are_read_to_the_cap_and_said_to_be_partial(
    anthropic_server: ProviderServer,
) -> None:
    _, old_id, new_id = keys(anthropic_server)
    pages = iter(range(1000))

    def endless(request) -> Reply:
        n = next(pages)
        return _page(anthropic_server, [_bucket(T0 + 60 * n, 60, [])], True, f"page_{n + 1}")

    anthropic_server.always("usage", endless)
    report = await read(anthropic_server, [old_id, new_id])
    assert report.partial and report.pages == MAX_PAGES
    assert report.last_end == T0 + 60 * MAX_PAGES  # counted only as far as it was read


async def test_a_page_served_twice_is_not_counted_twice(anthropic_server: ProviderServer) -> None:
    _, old_id, new_id = keys(anthropic_server)
    same = _page(anthropic_server, [_bucket(T0, 60, [{"api_key_id": old_id, "output_tokens": 5}])],
                 True, "page_again")
    anthropic_server.always("usage", same)  # ignores `page`: the same page, the same token
    report = await read(anthropic_server, [old_id, new_id])
    assert report.minutes == {T0: {old_id: Count(None, 5)}}
    assert report.partial and report.pages == 2


async def test_a_wrong_admin_key_is_refused_without_showing_a_key(server: ProviderServer) -> None:
    _, old_id, new_id = keys(server)
    server.admin_key = "sk-ant-admin01-some-other-admin-key-entirely-0000"
    with pytest.raises(UsageUnavailable, match="401") as caught:
        await read(server, [old_id, new_id])
    assert_no_canary(str(caught.value))


async def test_buckets_outside_the_minutes_asked_for_are_left_out(
    anthropic_server: ProviderServer,
) -> None:
    """A bucket before `since`, one two hours ahead of the report's clock and one dated
    9999 (a provider's clock gone wrong) neither stretch the report nor push real minutes
    out: only the minute asked for is counted."""
    _, old_id, new_id = keys(anthropic_server)
    later = T0 + 10 * 60 + 2 * 3600
    anthropic_server.always("usage", _page(anthropic_server, [
        _bucket(T0 - 60, 60, [{"api_key_id": old_id, "output_tokens": 7}]),
        _bucket(T0, 60, [{"api_key_id": old_id, "output_tokens": 5}]),
        _bucket(later, 60, []),
        {"starting_at": "9999-12-31T23:58:00Z", "ending_at": "9999-12-31T23:59:00Z",
         "results": []},
    ]))
    report = await read(anthropic_server, [old_id, new_id], now=T0 + 10 * 60)
    assert report.minutes == {T0: {old_id: Count(None, 5)}}
    assert report.last_end == T0 + 60


async def test_more_pages_without_a_way_to_ask_for_them_is_said_to_be_partial(
    anthropic_server: ProviderServer,
) -> None:
    _, old_id, new_id = keys(anthropic_server)
    anthropic_server.always("usage", _page(anthropic_server, [_bucket(T0, 60, [])], True, None))
    report = await read(anthropic_server, [old_id, new_id])
    assert report.partial and report.pages == 1
