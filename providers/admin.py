"""The admin API's plumbing, shared by the providers that have one: calls, pages, matching.

Admin answers are as hostile as probe answers: every id, hint, status and name read
from them, and every request id, is cleaned (providers/text.py) before keyturn shows,
logs or compares it, and an id that needed cleaning is never sent back.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from providers.body import ADMIN_BODY_CAP, error_message, parse_json, read_capped
from providers.errors import AdminError
from providers.lazy import httpx
from providers.results import AdminKey, AdminReceipt, AdminResponse
from providers.text import clean, scrub
from providers.transport import safe_request_id, secrets_in, transport_failure

if TYPE_CHECKING:
    from providers.keys import KeyLike

#: Longest key id, hint, status or name kept from an admin answer.
FIELD_CAP = 128
#: Pages of a key list read at most (100 records each).
MAX_PAGES = 100


def admin_key(record: dict[str, Any], hint_field: str) -> AdminKey:
    """One record of an admin key list, every text cleaned and capped."""
    raw_id = str(record["id"])
    key_id = clean(raw_id, FIELD_CAP)
    return AdminKey(
        id=key_id,
        hint=clean(record.get(hint_field) or "", FIELD_CAP),
        status=clean(record.get("status") or "active", FIELD_CAP),
        name=clean(record.get("name") or "", FIELD_CAP),
        plain=key_id == raw_id,
    )


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


def key_path(prefix: str, key_id: str) -> str:
    """`prefix/<key_id>`, the id escaped: a provider's id can never change the path."""
    return f"{prefix}/{quote(key_id, safe='')}"


class AdminCalls:
    """Admin calls for a Provider: one call, a paginated key list, the key that fits."""

    if TYPE_CHECKING:
        name: str

        def url(self, path: str) -> str: ...

        def auth_headers(self, key: KeyLike) -> dict[str, str]: ...

        def request_id(self, headers: httpx.Headers) -> str | None: ...

        async def list_admin_keys(
            self, client: httpx.AsyncClient, admin: KeyLike, timeout: float
        ) -> list[AdminKey]: ...

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
        secrets = secrets_in(httpx.Headers(headers))  # any case: Authorization, x-api-key
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
            rid = safe_request_id(self.request_id(response.headers), secrets)
            raise AdminError(scrub(
                f"admin API refused {method} ({response.status_code}): {message}"
                + (f" [request id {rid}]" if rid else ""), secrets
            ))
        return response

    def receipt(self, key_id: str, action: str, response: AdminResponse) -> AdminReceipt:
        """Proof of an admin change, with the provider's request id cleaned and capped."""
        return AdminReceipt(
            clean(key_id, FIELD_CAP), action, response.status_code,
            safe_request_id(self.request_id(response.headers), []),
        )

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
        for _ in range(MAX_PAGES):
            page = dict(params, limit="100")
            if after:
                page[cursor_param] = after
            response = await self.admin_request(client, admin, "GET", path, timeout, params=page)
            payload = parse_json(response.content)
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
                raise AdminError("admin API answered something that is not a key list")
            keys.extend(
                admin_key(record, hint_field)
                for record in payload["data"]
                if isinstance(record, dict) and "id" in record
            )
            if not payload.get("has_more") or not payload.get("last_id"):
                break
            after = str(payload["last_id"])
        return keys

    async def find_admin_key(
        self, client: httpx.AsyncClient, admin: KeyLike, key: KeyLike, timeout: float
    ) -> AdminKey:
        """The one admin record whose hint fits `key`; refuses when zero or several fit,
        and when the one that fits has an id that is not plain text."""
        raw = key.reveal()
        keys = await self.list_admin_keys(client, admin, timeout)
        matches = [k for k in keys if hint_matches(k.hint, raw)]
        if not matches:
            raise AdminError(
                f"no active key matches key {key.fingerprint} ({len(keys)} listed); refusing to guess"
            )
        if len(matches) > 1:
            ids = clean(", ".join(m.id for m in matches), 400)
            raise AdminError(
                f"{len(matches)} keys match key {key.fingerprint} ({ids}); refusing to guess"
            )
        (match,) = matches
        if not match.plain:
            raise AdminError(
                f"the admin API lists key {key.fingerprint} under an id that is not plain text "
                f"(control characters, or over {FIELD_CAP} characters): {match.id}; "
                "refusing to send it back"
            )
        return match
