"""Providers by name: each builds probe requests, classifies answers, and may revoke keys."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from providers.base import Provider


def lazy_module(name: str) -> ModuleType:
    """`name`, imported on its first attribute access (the stdlib's LazyLoader recipe)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if not TYPE_CHECKING:
    #: httpx for every module here and in tui/: loaded when the first request is built, so
    #: the dashboard draws its first frame without waiting ~55 ms for the import (and
    #: `keyturn --help` never pays for it). tests/benchmarks: first frame.
    httpx = lazy_module("httpx")

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
