"""Key fingerprints: the one safe name for a key (no httpx, so anything may import it)."""

import hashlib


def fingerprint(raw: str) -> str:
    """First 12 hex chars of SHA-256 of the key's UTF-8 bytes: safe to show and log."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
