"""Anthropic: probe with GET /v1/models; admin through the Admin API (deactivate/reactivate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from providers.admin import key_path
from providers.base import Provider
from providers.body import parse_json
from providers.errors import AdminError
from providers.keys import KeyLike
from providers.lazy import httpx
from providers.models_api import classify_models_answer
from providers.results import AdminKey, AdminReceipt, Classified, Verdict
from providers.text import clean

API_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"
ADMIN_KEYS = "/v1/organizations/api_keys"


@dataclass
class AnthropicProvider(Provider):
    """Anthropic's API; `base_url` is the host root, as in the official SDK."""

    base_url: str = DEFAULT_BASE_URL
    name: str = "anthropic"
    supports_reactivate: bool = True
    console: ClassVar[str] = "console.anthropic.com → Settings → API keys"

    def auth_headers(self, key: KeyLike) -> dict[str, str]:
        return {"x-api-key": key.reveal(), "anthropic-version": API_VERSION}

    def probe_request(self, key: KeyLike) -> httpx.Request:
        return httpx.Request("GET", self.url("/v1/models"), headers=self.auth_headers(key))

    def classify(self, status: int, headers: httpx.Headers, body: bytes) -> Classified:
        return classify_models_answer(status, body, rejected_404=True)

    def verdict_for_status(self, status: int) -> Verdict:
        if status == 404:
            return Verdict.REJECTED
        return super().verdict_for_status(status)  # 529 is >= 500: unavailable

    async def list_admin_keys(
        self, client: httpx.AsyncClient, admin: KeyLike, timeout: float, active_only: bool = True
    ) -> list[AdminKey]:
        params = {"status": "active"} if active_only else {}
        return await self.list_admin_pages(
            client, admin, ADMIN_KEYS, timeout, params, "after_id", "partial_key_hint"
        )

    async def _set_status(
        self, client: httpx.AsyncClient, admin: KeyLike, key_id: str, status: str, timeout: float
    ) -> AdminReceipt:
        response = await self.admin_request(
            client, admin, "POST", key_path(ADMIN_KEYS, key_id), timeout, json={"status": status}
        )
        payload = parse_json(response.content)
        if isinstance(payload, dict) and payload.get("status") not in (None, status):
            left = clean(payload.get("status"), 40)
            raise AdminError(f"admin API left key {clean(key_id, 128)} {left}, not {status}")
        return self.receipt(key_id, status, response)

    async def deactivate(
        self, client: httpx.AsyncClient, admin: KeyLike, key_id: str, timeout: float
    ) -> AdminReceipt:
        return await self._set_status(client, admin, key_id, "inactive", timeout)

    async def reactivate(
        self, client: httpx.AsyncClient, admin: KeyLike, key_id: str, timeout: float
    ) -> AdminReceipt:
        return await self._set_status(client, admin, key_id, "active", timeout)
