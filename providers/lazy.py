"""httpx, imported on first use: the one place the providers (and tui/) get it from.

The dashboard draws its first frame without waiting ~55 ms for httpx's import, and
`keyturn --help` never pays for it: the import runs when the first request is built.
A module of its own, so that no provider module imports its own package for it.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING


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


if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_module("httpx")
