"""What one run of a rotation needs before its engine starts: the keys, resolved from
their references, the provider the rotation names, and the one HTTP client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from providers import provider_by_name
from providers.base import Provider
from providers.lazy import httpx
from tui.engine.config import Rotation
from tui.engine.credentials import CredentialError, Secret, resolve


@dataclass
class Keys:
    """The rotation's credentials, resolved from their references."""

    old: Secret
    new: Secret | None = None
    admin: Secret | None = None


# -- events the engine emits (plain data; the screen turns them into messages) --


def load_keys(rotation: Rotation, prompt: Callable[[str], str] | None = None) -> Keys:
    """Resolve old (required), new (optional: not rotating yet) and admin (optional
    unless configured explicitly)."""
    old = resolve(rotation.old, f"{rotation.name} old key", prompt=prompt)
    new = resolve(rotation.new, f"{rotation.name} new key", required=False, prompt=prompt)
    admin = resolve(
        rotation.admin, f"{rotation.name} admin key", required=rotation.admin_explicit, prompt=prompt
    )
    assert old is not None
    if new is not None and new == old:
        raise CredentialError(f"{rotation.name}: the new key is the same key as the old one")
    return Keys(old, new, admin)


def provider_for(rotation: Rotation) -> Provider:
    """The provider a rotation names, at its base_url (OpenAI also takes its project)."""
    options = {"project_id": rotation.project_id} if rotation.provider == "openai" else {}
    return provider_by_name(rotation.provider, rotation.base_url, **options)


def open_client(provider: Provider) -> httpx.AsyncClient:
    """The one HTTP client of a run: connections are reused for every probe."""
    if provider.transport is None:
        _load_network_backend()
    return httpx.AsyncClient(
        transport=provider.transport,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=60),
        timeout=httpx.Timeout(10.0),
        headers={"user-agent": "keyturn/0.1"},
    )


def _load_network_backend() -> None:
    """Load now what the first request would load inside its own deadline: httpcore's
    anyio backend (~20 ms of imports, several times that on a loaded machine). The first
    probe's latency and timeout then measure the network, as every later probe's do."""
    import anyio.lowlevel

    try:
        anyio.lowlevel.current_token()  # imports the running event loop's backend
    except Exception:  # no running event loop: the first request loads it after all
        pass
