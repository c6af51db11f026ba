"""Response bodies, read capped and decoded defensively: what classifiers look at."""

from __future__ import annotations

import json
import zlib
from typing import Any

from providers.lazy import httpx
from providers.text import clean

#: A probe reads at most this much of a response body: the answers we classify are small.
BODY_CAP = 64 * 1024
#: Admin key lists are bigger (100 records a page) but still bounded.
ADMIN_BODY_CAP = 4 * 1024 * 1024


async def read_capped(response: httpx.Response, cap: int = BODY_CAP) -> bytes:
    """Read at most `cap` bytes of a streamed body; the rest is never downloaded.

    A gzip/deflate body (some proxies compress whatever was asked) is inflated here, to at
    most `cap` bytes as well, so a small compressed bomb cannot grow past the cap either.
    An encoding we cannot inflate gives an empty body (classified as not what the provider sends).
    """
    try:
        return response.content[:cap]  # already in memory (in-process transports)
    except httpx.ResponseNotRead:
        pass
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
    elif encoding not in ("", "identity"):
        return b""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, cap - size)
            except zlib.error:
                break
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap or (inflater is not None and inflater.unconsumed_tail):
            break
    return b"".join(chunks)[:cap]


def parse_json(body: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (HTML error pages, truncation)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[…" bodies
        return None


def looks_like_html(body: bytes) -> bool:
    head = body[:200].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html")) or b"<html" in head


def error_message(payload: Any) -> str:
    """The provider's own error message from a JSON error body (cleaned), if there is one."""
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            kind = err.get("type") or err.get("code") or ""
            msg = err.get("message") or ""
            text = f"{kind}: {msg}" if kind and msg else (msg or kind)
            return clean(text)
        if isinstance(err, str):
            return clean(err)
    return ""
