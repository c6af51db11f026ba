"""Providers by name: each builds probe requests, classifies answers, and may revoke keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base import Provider

PROVIDERS = ("anthropic", "openai", "simulated")


def provider_by_name(name: str, base_url: str | None = None, **options: object) -> Provider:
    """A provider instance for a config's `provider = "..."`; ValueError for an unknown name."""
    if name == "anthropic":
        from providers.anthropic import AnthropicProvider as cls
    elif name == "openai":
        from providers.openai import OpenAIProvider as cls  # type: ignore[assignment]
    elif name == "simulated":
        from providers.simulated import SimulatedProvider as cls  # type: ignore[assignment]
    else:
        raise ValueError(f"unknown provider {name!r} (known: {', '.join(PROVIDERS)})")
    kwargs = {k: v for k, v in options.items() if v is not None}
    if base_url:
        kwargs["base_url"] = base_url
    return cls(**kwargs)  # type: ignore[arg-type]
