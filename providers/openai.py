"""OpenAI: probe with GET {base}/models; admin deletes a project key (no reactivation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from providers.admin import key_path
from providers.base import Provider
from providers.errors import AdminError
from providers.keys import KeyLike
from providers.lazy import httpx
from providers.models_api import classify_models_answer
from providers.results import AdminKey, AdminReceipt, Classified

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass
class OpenAIProvider(Provider):
    """OpenAI's API; `base_url` includes `/v1`, as in the official SDK."""

    base_url: str = DEFAULT_BASE_URL
    name: str = "openai"
    project_id: str | None = None
    console: ClassVar[str] = "platform.openai.com → your project → API keys"

    def auth_headers(self, key: KeyLike) -> dict[str, str]:
        return {"Authorization": "Bearer " + key.reveal()}

    def probe_request(self, key: KeyLike) -> httpx.Request:
        return httpx.Request("GET", self.url("/models"), headers=self.auth_headers(key))

    def request_id(self, headers: httpx.Headers) -> str | None:
        return headers.get("x-request-id") or headers.get("request-id")

    def classify(self, status: int, headers: httpx.Headers, body: bytes) -> Classified:
        return classify_models_answer(status, body)

    def _keys_path(self) -> str:
        if not self.project_id:
            raise AdminError("OpenAI admin calls need project_id in the rotation's config")
        return f"/organization/projects/{self.project_id}/api_keys"

    async def list_admin_keys(
        self, client: httpx.AsyncClient, admin: KeyLike, timeout: float, active_only: bool = True
    ) -> list[AdminKey]:
        return await self.list_admin_pages(
            client, admin, self._keys_path(), timeout, {}, "after", "redacted_value"
        )

    async def deactivate(
        self, client: httpx.AsyncClient, admin: KeyLike, key_id: str, timeout: float
    ) -> AdminReceipt:
        response = await self.admin_request(
            client, admin, "DELETE", key_path(self._keys_path(), key_id), timeout
        )
        return self.receipt(key_id, "deleted", response)
