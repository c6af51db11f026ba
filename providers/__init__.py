"""Providers by name: each builds probe requests, classifies answers, and may revoke keys.

`PROVIDERS` is the one list of provider names: the config file accepts exactly these
(tui/engine/config_schema.py reads them from here). Nothing is imported until a
provider is asked for by name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base import Provider

#: Every provider, by the name a config file gives it: the module and class that serve it.
PROVIDERS: dict[str, tuple[str, str]] = {
    "anthropic": ("providers.anthropic", "AnthropicProvider"),
    "openai": ("providers.openai", "OpenAIProvider"),
    "simulated": ("providers.simulated", "SimulatedProvider"),
}
#: The names alone, in a fixed order (for messages and the config schema).
PROVIDER_NAMES = tuple(PROVIDERS)


def provider_by_name(name: str, base_url: str | None = None, **options: object) -> Provider:
    """A provider instance for a config's `provider = "..."`; ValueError for an unknown name."""
    if name not in PROVIDERS:
        raise ValueError(f"unknown provider {name!r} (known: {', '.join(PROVIDER_NAMES)})")
    module, cls_name = PROVIDERS[name]
    cls = getattr(importlib.import_module(module), cls_name)
    kwargs = {k: v for k, v in options.items() if v is not None}
    if base_url:
        kwargs["base_url"] = base_url
    return cls(**kwargs)
