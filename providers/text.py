"""Provider text, made safe: the one cleaner of what a provider sends, the one key scrub.

Everything a provider, a gateway or a deployment sends is hostile until cleaned: an
error message, a request id, a key id or name from an admin API. `clean()` makes it
one bounded line a terminal only prints (no escape sequence can move the cursor,
retitle the window or clear the screen) and JSON can always encode. `scrub()` stars
out a key, or any 12-character piece of one, wherever a provider quotes it back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

#: Escape sequences a terminal acts on, removed whole rather than just their ESC byte:
#: CSI (`ESC [` … final byte; 8-bit `\x9b`), OSC/DCS/SOS/PM/APC strings up to BEL or
#: ST (`ESC \` or `\x9c`), and every other `ESC` + intermediates + final byte (`ESC c`
#: resets the terminal). An unterminated string is removed to the end of the text.
ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
#: Lone UTF-16 surrogates (from a JSON `"\ud800"`): no encoder takes them, so none stays.
SURROGATE = re.compile("[\ud800-\udfff]")
#: At most this many characters (plus 64) are looked at per character kept: a 10 MB
#: header costs no more to clean than a short one.
WINDOW = 4

#: What a scrubbed key, or piece of one, becomes.
HIDDEN = "****"
#: The shortest run of a key that counts as leaking it.
PIECE = 12


def clean(text: object, limit: int = 160) -> str:
    """`text` as one printable line of at most `limit` characters ("…" marks a cut).

    Escape sequences go whole; other control characters (C0, DEL, C1) and invisible
    format characters (bidi overrides) are dropped; a lone surrogate becomes U+FFFD;
    runs of whitespace (line breaks too) become one space. Ordinary text is unchanged.
    """
    text = str(text)
    cut = len(text) > limit * WINDOW + 64
    if cut:
        text = text[: limit * WINDOW + 64]
    if not text.isprintable():
        text = ESCAPE.sub("", text)
        text = SURROGATE.sub("\ufffd", text)
        text = "".join(ch for ch in text if ch.isprintable() or ch.isspace())
    line = " ".join(text.split())
    if cut or len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + "…"
    return line


def scrub(text: str, secrets: Iterable[str], hide: Callable[[str], str] | None = None) -> str:
    """`text` with every secret, and every 12-character piece of one, starred out.

    Providers and gateways sometimes quote the key they were sent in an error message;
    what keyturn shows or writes must never carry it. `hide(raw)` is what replaces a
    whole secret (default "****": a screen may show a mask instead); a piece is "****".
    """
    if not text:
        return text  # most calls (an empty reason, no message): nothing to look through
    secrets = [raw for raw in secrets if len(raw) >= 8]
    if not secrets:
        return text
    for raw in sorted(secrets, key=len, reverse=True):  # a key inside a longer one: longer first
        if raw in text:
            text = text.replace(raw, hide(raw) if hide else HIDDEN)
    for raw in secrets:
        if not shares_piece(text, raw):
            continue  # the usual answer, checked the cheap way round (runs on every probe)
        for i in range(len(raw) - PIECE + 1):
            piece = raw[i : i + PIECE]
            if piece in text:
                text = text.replace(piece, HIDDEN)
    return text


def shares_piece(text: str, raw: str, size: int = PIECE) -> bool:
    """Whether `text` holds any `size`-character piece of `raw`, looping over the shorter
    of the two: a request id or "authenticated" has a few windows, a key ~90 pieces."""
    if len(text) < size or len(raw) < size:
        return False
    if len(text) <= len(raw):
        return any(text[i : i + size] in raw for i in range(len(text) - size + 1))
    return any(raw[i : i + size] in text for i in range(len(raw) - size + 1))
