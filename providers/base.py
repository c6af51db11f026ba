"""The shape every provider shares: a request builder, a classifier, optional admin calls.

A provider is three things: a request builder (how to ask "is this key good?"), a
classifier (what the answer means, as a Verdict), and optionally admin calls (find,
deactivate, reactivate a key). The probe on the wire is providers/transport.py and the
admin plumbing providers/admin.py, so every provider times out, caps bodies, refuses
redirects and cleans what it is told the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from providers.admin import AdminCalls
from providers.errors import AdminUnsupported
from providers.keys import KeyLike
from providers.lazy import httpx
from providers.results import AdminKey, AdminReceipt, Classified, ProbeResult, Verdict
from providers.transport import invalid_url, send_probe


@dataclass
class Provider(AdminCalls):
    """Base of every provider: subclasses set the request and the classification."""

    base_url: str = ""
    name: str = "provider"
    #: The httpx transport to send through, when the provider is not on the network (simulated).
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)
    supports_reactivate: bool = False
    #: Where a user revokes a key by hand, when there is no admin key.
    console: ClassVar[str] = "the provider's console"

    # -- what subclasses define -------------------------------------------------
    def probe_request(self, key: KeyLike) -> httpx.Request:
        raise NotImplementedError

    def classify(self, status: int, headers: httpx.Headers, body: bytes) -> Classified:
        raise NotImplementedError

    def auth_headers(self, key: KeyLike) -> dict[str, str]:
        """The headers that carry a key; the only place a raw key is read."""
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
        """The provider's request id header, as sent (callers clean it)."""
        return headers.get("request-id") or headers.get("x-request-id")

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    # -- admin (optional) -------------------------------------------------------
    async def list_admin_keys(
        self, client: httpx.AsyncClient, admin: KeyLike, timeout: float, active_only: bool = True
    ) -> list[AdminKey]:
        raise AdminUnsupported(f"{self.name} has no admin API in keyturn")

    async def deactivate(
        self, client: httpx.AsyncClient, admin: KeyLike, key_id: str, timeout: float
    ) -> AdminReceipt:
        raise AdminUnsupported(f"{self.name} has no admin API in keyturn")

    async def reactivate(
        self, client: httpx.AsyncClient, admin: KeyLike, key_id: str, timeout: float
    ) -> AdminReceipt:
        raise AdminUnsupported(f"{self.name} cannot reactivate a key")

    # -- the probe --------------------------------------------------------------
    async def probe(
        self, client: httpx.AsyncClient, key: KeyLike | None, timeout: float
    ) -> ProbeResult:
        """Send one probe and classify it; never raises for network or provider trouble."""
        try:
            request = self.probe_request(key)  # type: ignore[arg-type]
        except (httpx.InvalidURL, UnicodeError) as exc:
            return invalid_url(exc, "base_url")
        return await send_probe(client, request, timeout, self.classify, self.request_id)
