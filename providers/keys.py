"""Keys as providers see them: the fingerprint (the one safe name for a key) and the
shape of a credential (no httpx, so anything may import this)."""

from __future__ import annotations

import hashlib
from typing import Protocol


def fingerprint(raw: str) -> str:
    """First 12 hex chars of SHA-256 of the key's UTF-8 bytes: safe to show and log."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


class KeyLike(Protocol):
    """What a provider needs of a credential: the raw value (only to build a header)."""

    @property
    def fingerprint(self) -> str: ...

    def reveal(self) -> str: ...
