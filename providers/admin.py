"""The admin API's plumbing, shared by the providers that have one: calls, pages, matching.

Admin answers are as hostile as probe answers: every id, hint, status and name read
from them, and every request id, is cleaned (providers/text.py) before keyturn shows,
logs or compares it, and an id that needed cleaning is never sent back.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from providers.body import ADMIN_BODY_CAP, error_message, parse_json, read_capped
from providers.errors import AdminError, AdminKeyInactive, AdminOutcomeUnknown
from providers.lazy import httpx
from providers.results import AdminKey, AdminReceipt, AdminResponse
from providers.text import clean, scrub
from providers.transport import (
    parse_retry_after,
    safe_request_id,
    secrets_in,
    transport_failure,
)

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


#: The part of a key every key of its kind shares: not evidence of which key it is.
KIND_PREFIX = re.compile(r"^(?:sk-(?:ant-[a-z]+\d*-|proj-|svcacct-|admin-)?)")
KINDS = ("sk-ant-api03-", "sk-ant-admin01-", "sk-proj-", "sk-svcacct-", "sk-admin-")
#: Characters a hint must show of the key itself on each side of the dots.
MIN_HINT_SIDE = 3


def hint_parts(hint: str) -> tuple[str, str] | None:
    """(head, tail) of a redacted hint like `sk-ant-api03-R2D...igAA`; None when it has no dots."""
    for sep in ("...", "…", "**"):
        if sep in hint:
            head, _, tail = hint.partition(sep)
            return head, tail.lstrip(sep[0])
    return None


def hint_is_distinctive(hint: str) -> bool:
    """Whether a hint shows enough of a key, on both sides of the dots, to tell it apart:
    `sk-ant-api03-...` (nothing after the kind) fits every key of that kind."""
    parts = hint_parts(hint)
    if parts is None:
        return False
    head, tail = parts
    return len(own_part(head)) >= MIN_HINT_SIDE and len(tail) >= MIN_HINT_SIDE


def own_part(head: str) -> str:
    """What a hint's head shows of the key itself, past its kind (`sk-ant-api03-`,
    `sk-proj-`, …); a head that is only (part of) a kind, like `sk-pro`, shows nothing."""
    if any(kind.startswith(head) for kind in KINDS):
        return ""
    return head[KIND_PREFIX.match(head).end():]  # type: ignore[union-attr]


def hint_matches(hint: str, raw_key: str) -> bool:
    """Whether a redacted hint fits the key, on enough distinctive characters both sides."""
    parts = hint_parts(hint)
    if parts is None or not hint_is_distinctive(hint):
        return False
    head, tail = parts
    return raw_key.startswith(head) and raw_key.endswith(tail) and len(raw_key) >= len(head) + len(tail)


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
            self, client: httpx.AsyncClient, admin: KeyLike, timeout: float,
            active_only: bool = True,
        ) -> list[AdminKey]: ...

    async def admin_request(
        self,
        client: httpx.AsyncClient,
        admin: KeyLike,
        method: str,
        path: str,
        timeout: float,
        cap: int = ADMIN_BODY_CAP,
        **kwargs: Any,
    ) -> AdminResponse:
        """One admin API call; any failure becomes an AdminError with a safe message.

        `timeout` is an overall deadline (connect, headers and a body read to at most `cap`
        bytes together), as for probes, and redirects are never followed: the admin key goes
        to base_url only. A refusal carries the status and any `retry-after` it was sent.
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
                    body = await read_capped(streamed, cap)
                finally:
                    await streamed.aclose()
        except (TimeoutError, httpx.TransportError, OSError) as exc:
            if method != "GET" and not isinstance(exc, httpx.ConnectError):
                # The request may have reached the provider: say so rather than "failed".
                raise AdminOutcomeUnknown(
                    f"admin API unreachable: {transport_failure(exc, request.url.host, request.url.port)}; the change may or may "
                    "not have been made") from None
            raise AdminError(f"admin API unreachable: {transport_failure(exc, request.url.host, request.url.port)}") from None
        response = AdminResponse(streamed.status_code, streamed.headers, body)
        if response.status_code >= 300:
            message = error_message(parse_json(response.content)) or f"HTTP {response.status_code}"
            rid = safe_request_id(self.request_id(response.headers), secrets)
            refused = AdminError(scrub(
                f"admin API refused {method} ({response.status_code}): {message}"
                + (f" [request id {rid}]" if rid else ""), secrets
            ))
            refused.status = response.status_code
            refused.retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise refused
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
        self, client: httpx.AsyncClient, admin: KeyLike, key: KeyLike, timeout: float,
        other: KeyLike | None = None,
    ) -> AdminKey:
        """The one active admin record whose hint fits `key` and not `other` (the NEW key).

        Refuses, saying what it saw, when no record fits on enough characters, when several
        do, when the one that fits also fits `other`, or when its id is not plain text.
        The list is read whole and filtered here: a list that ignores `status=active`
        must not lead to a second call for a key already deactivated (AdminKeyInactive).
        """
        raw = key.reveal()
        keys = await self.list_admin_keys(client, admin, timeout)
        fits = [k for k in keys if hint_matches(k.hint, raw)]
        vague = [k for k in keys if not hint_is_distinctive(k.hint)]
        if other is not None:
            both = [k for k in fits if hint_matches(k.hint, other.reveal())]
            if both:
                raise AdminError(
                    f"the hint of key {both[0].id} ({both[0].hint}) fits both the old key "
                    f"{key.fingerprint} and the new key {other.fingerprint}; refusing to guess")
        active = [k for k in fits if k.status == "active"]
        if not active and fits:
            gone = fits[0]
            raise AdminKeyInactive(
                f"key {gone.id} ({gone.hint}) fits old key {key.fingerprint} and is already "
                f"{gone.status}", gone.id)
        if not active:
            seen = f"{len(keys)} listed"
            if vague:
                seen += (f"; {len(vague)} with a hint too short to tell keys apart, e.g. "
                         f"{clean(vague[0].hint, 40)!r}")
            raise AdminError(
                f"no active key fits old key {key.fingerprint} on at least {MIN_HINT_SIDE} "
                f"characters each side of its hint ({seen}); refusing to guess")
        if len(active) > 1:
            ids = clean(", ".join(m.id for m in active), 400)
            raise AdminError(
                f"{len(active)} keys fit old key {key.fingerprint} ({ids}); refusing to guess")
        (match,) = active
        if not match.plain:
            raise AdminError(
                f"the admin API lists key {key.fingerprint} under an id that is not plain text "
                f"(control characters, or over {FIELD_CAP} characters): {match.id}; "
                "refusing to send it back"
            )
        return match

    async def admin_key_status(
        self, client: httpx.AsyncClient, admin: KeyLike, key: KeyLike, key_id: str | None,
        timeout: float,
    ) -> str:
        """What the provider says of a key now: `active`, `inactive`, `archived`, or `gone`
        (no longer listed: OpenAI deletes). By id when known, else by its hint; AdminError
        when the list cannot be read or several records fit."""
        keys = await self.list_admin_keys(client, admin, timeout, active_only=False)
        if key_id is not None:
            for record in keys:
                if record.id == key_id:
                    return record.status
            return "gone"
        fits = [k for k in keys if hint_matches(k.hint, key.reveal())]
        if len(fits) > 1:
            raise AdminError(f"{len(fits)} keys fit old key {key.fingerprint}; cannot tell which")
        return fits[0].status if fits else "gone"
