"""What Cloudflare (or something pretending to be it) lists is hostile until cleaned: a
version id with escape sequences or a path in it is shown cleaned and never sent back."""

from __future__ import annotations

from typing import Any

from providers import cloudflare


def test_a_hostile_version_id_is_shown_cleaned_and_never_sent_back() -> None:
    deployment = cloudflare.parse_deployment({
        "id": "dep\x1b]0;pwned\x07-1", "created_on": "2026-03-02T12:00:00Z",
        "annotations": {"workers/triggered_by": "secret\x1b[2J"},
        "versions": [{"version_id": "\x1b[31m../../accounts/other", "percentage": 60},
                     {"version_id": "3f2a1b9c-aaaa-4bbb-8ccc-000000000001", "percentage": 40},
                     {"version_id": 7, "percentage": 1}, {"version_id": "x", "percentage": True}],
    })
    assert deployment is not None
    hostile, plain = deployment.shares  # the malformed entries are dropped
    assert hostile.version_id == "../../accounts/other" and not hostile.plain
    assert plain.plain and plain.percentage == 40.0
    assert deployment.cause == "a secret change" and deployment.id == "dep-1"
    assert deployment.gradual


async def test_a_version_id_that_needed_cleaning_is_not_requested() -> None:
    class NoNetwork:
        async def send(self, *args, **kwargs):
            raise AssertionError("a request was sent")

    share = cloudflare.Share("../../accounts/other", 60.0, plain=False)
    base = cloudflare.scripts_url(cloudflare.DEFAULT_API, "a" * 32, "svc")
    client: Any = NoNetwork()
    answer, created = await cloudflare.version_created(client, base, share, "token", 1.0)
    assert not answer.ok and created is None
    assert "is not sent back" in answer.message
