"""providers.text: the one cleaner of provider text and the one key scrub."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.text import clean, scrub
from tests.support_canary import CANARY_NEW, CANARY_OLD, assert_no_canary
from tui.engine.credentials import Secret, redact


def harmless(text: str) -> bool:
    """What a terminal may be given: printable, no escape or control character, and
    encodable as UTF-8 (a lone surrogate is not)."""
    text.encode("utf-8")
    return text.isprintable() and "\x1b" not in text


@pytest.mark.parametrize(
    "hostile,shown",
    [
        ("before\x1b[2Jafter", "beforeafter"),  # CSI: clear the screen
        ("\x1b[31mred\x1b[0m", "red"),  # CSI: colours
        ("\x1b[38;2;255;0;0mtruecolour", "truecolour"),  # parameters with ';'
        ("x\x1b]0;new title\x07y", "xy"),  # OSC ended by BEL: retitle the terminal
        ("x\x1b]0;new title\x1b\\y", "xy"),  # OSC ended by ST (ESC \)
        ("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),  # OSC 8 link
        ("ok\x1b]0;never ended", "ok"),  # an unterminated OSC: removed to the end
        ("x\x1bPq#0;2;0;0;0\x1b\\y", "xy"),  # DCS (sixel) up to ST
        ("a\x1bcb", "ab"),  # ESC c: reset the terminal
        ("a\x1b(Bb", "ab"),  # ESC ( B: character set
        ("a\x9b2Jb", "ab"),  # 8-bit CSI (C1)
        ("a\x9d0;title\x9cb", "ab"),  # 8-bit OSC ended by 8-bit ST
        ("a\x80\x8e\x91b", "ab"),  # other C1 controls
        ("a\x7fb", "ab"),  # DEL
        ("a\x00\x07\x08b", "ab"),  # C0: NUL, BEL, backspace
        ("safe\u202eexe.txt", "safeexe.txt"),  # a bidi override
        ("one\r\ntwo\tthree   four\n", "one two three four"),  # one line
    ],
)
def test_clean_removes_escape_sequences_and_controls_whole(hostile: str, shown: str) -> None:
    assert clean(hostile) == shown


def test_a_lone_surrogate_becomes_a_replacement_character_json_and_utf8_accept() -> None:
    text = clean("id\ud800x\udfff")
    assert text == "id\ufffdx\ufffd"
    assert json.loads(json.dumps(text, ensure_ascii=False)) == text
    text.encode("utf-8")


def test_huge_input_is_capped_with_an_ellipsis() -> None:
    huge = "r" * 10_000_000
    text = clean(huge, 128)
    assert len(text) == 128 and text.endswith("…")
    # Escape sequences do not buy extra length, and a cut one leaves no ESC behind.
    flood = "\x1b[2J" * 1_000_000 + "tail"
    assert len(clean(flood, 128)) <= 128 and harmless(clean(flood, 128))


def test_the_cap_counts_characters_and_text_at_the_cap_is_kept_whole() -> None:
    assert clean("a" * 160) == "a" * 160
    assert clean("a" * 161) == "a" * 159 + "…"
    assert clean("abc def", 5) == "abc…"


@pytest.mark.parametrize(
    "ordinary",
    [
        "invalid x-api-key",
        "req_011CSHoEeqs5C35K2UUqR7Fy",
        "apikey_01Rj2N8SVvo6BePZj99NhmiT",
        "sk-ant-api03-R2D...igAA",
        "Überlastet – 过载 – перегружен 🚦",
        "rate_limit_error: Number of requests has exceeded your rate limit.",
    ],
)
def test_ordinary_text_is_unchanged(ordinary: str) -> None:
    assert clean(ordinary) == ordinary


#: Any character (lone surrogates included), with the pieces of escape sequences common.
ANY = st.one_of(
    st.characters(exclude_categories=()),
    st.sampled_from(["\x1b", "[", "]", "\\", ";", "0", "m", "\x07", "\x9b", "\x9c", " ", "\n"]),
)


@given(st.text(alphabet=ANY, max_size=400), st.integers(1, 300))
def test_whatever_a_provider_sends_comes_out_harmless_bounded_and_stable(
    text: str, limit: int
) -> None:
    shown = clean(text, limit)
    assert harmless(shown)
    assert len(shown) <= limit
    assert clean(shown, limit) == shown  # cleaning twice (provider, then audit) changes nothing


def test_scrub_stars_out_whole_keys_and_pieces_with_the_cheap_check_first() -> None:
    text = f"bad key {CANARY_OLD}; again: {CANARY_OLD[10:40]} and {CANARY_NEW[-14:]}"
    scrubbed = scrub(text, [CANARY_OLD, CANARY_NEW])
    assert_no_canary(scrubbed)
    assert scrubbed.startswith("bad key ****; again: ")
    assert scrub("authenticated", [CANARY_OLD]) == "authenticated"
    assert scrub("", [CANARY_OLD]) == "" and scrub("text", []) == "text"


def test_redact_is_scrub_with_the_mask_of_every_revealed_key() -> None:
    secret = Secret(CANARY_OLD)
    text = f"crash near {CANARY_OLD} and {CANARY_OLD[5:25]}"
    redacted = redact(text)
    assert_no_canary(redacted)
    assert redacted.startswith(f"crash near {secret.masked} and ")
    assert redacted == scrub(text, [CANARY_OLD], lambda raw: secret.masked)
