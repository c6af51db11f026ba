"""Canary keys and the search that proves they never leak.

A canary is a key-shaped string that must not appear, whole or as any 12+ character
piece, in anything keyturn prints, logs, saves or shows on a crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

CANARY_OLD = "sk-ant-api03-CANARYold7Qx2ZpLm9VbN4cR8tYw1KjH6sD3fG5aE0uI" + "igAA"
CANARY_NEW = "sk-ant-api03-CANARYnew3Wv8XqTz5NmB2pLk7RcJ9yHd4sF6gA1eU0oP" + "xQBB"
CANARY_ADMIN = "sk-ant-admin01-CANARYadm5Hn2Jk8Lp4Qr7Ts1Vw9Xz3Bc6Df0Gh" + "mmCC"
CANARY_OPENAI = "sk-proj-CANARYoai4Rt7Yu1Io9Pa3Sd6Fg2Hj5Kl8Zx0Cv" + "q1DD"
CANARIES = (CANARY_OLD, CANARY_NEW, CANARY_ADMIN, CANARY_OPENAI)


def pieces(raw: str, size: int = 12) -> set[str]:
    """Every run of `size` characters of a key."""
    return {raw[i : i + size] for i in range(len(raw) - size + 1)}


def leaks(text: str, canaries: Iterable[str] = CANARIES) -> list[str]:
    """The canary pieces found in `text` (empty when clean)."""
    found = []
    for canary in canaries:
        for piece in pieces(canary):
            if piece in text:
                found.append(piece)
    return found


def files_under(*roots: Path) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        root = Path(root)
        if root.is_file():
            out.append(root)
        elif root.exists():
            out.extend(p for p in root.rglob("*") if p.is_file())
    return out


def assert_no_canary(*texts: str, paths: Iterable[Path] = (), canaries: Iterable[str] = CANARIES) -> None:
    """Fail when any canary (or 12+ char piece) appears in the texts or under the paths."""
    canaries = tuple(canaries)
    for i, text in enumerate(texts):
        found = leaks(text or "", canaries)
        assert not found, f"canary leaked in text #{i}: {found[:3]}"
    for path in files_under(*paths):
        data = path.read_bytes().decode("utf-8", errors="replace")
        found = leaks(data, canaries)
        assert not found, f"canary leaked in {path}: {found[:3]}"
