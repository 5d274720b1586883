"""What a todo title may hold: the one rule, used by the API models and by every store before
it writes (so nothing unreadable can ever be stored, whichever store is configured).

A title is trimmed (Unicode whitespace at both ends) and then measured: 1-200 code points, and
at least one of them visible (not whitespace and not in BLANK: joiners, combining marks and
variation selectors on their own, soft hyphen, Hangul fillers, braille blank). Refused anywhere:
- lone surrogates (not Unicode text; no UTF-8 form exists);
- FORBIDDEN: control characters (C0, DEL, C1; tabs and newlines included); invisible and
  direction-changing characters: bidi embeddings, overrides and isolates (U+202A-202E,
  U+2066-2069), the marks U+200E, U+200F, U+061C, zero-width space U+200B, word joiner,
  invisible operators and deprecated format characters U+2060-206F, U+FEFF, U+180E,
  line/paragraph separators U+2028/2029: they make a title look like something else
  ("\\u202etxt.exe"); and the noncharacters of the BMP (U+FDD0-FDEF, U+FFFE, U+FFFF: sentinels
  and the byte-swapped BOM, signs of broken text). The 32 noncharacters of other planes are
  valid scalar values that no portable schema pattern can name, so they are allowed.
Kept: every script, emoji with zero-width joiners (U+200C/U+200D are needed by several scripts
and emoji sequences), combining marks after a base character, private-use characters.
The OpenAPI pattern below is built from the same tables, so schema and validator agree.
"""

from __future__ import annotations

TITLE_MAX = 200

FORBIDDEN = [(0x00, 0x1F), (0x7F, 0x9F), (0x061C, 0x061C), (0x180E, 0x180E), (0x200B, 0x200B),
             (0x200E, 0x200F), (0x2028, 0x202E), (0x2060, 0x206F), (0xFEFF, 0xFEFF),
             (0xFDD0, 0xFDEF), (0xFFFE, 0xFFFF)]
BLANK = [(0x00AD, 0x00AD), (0x0300, 0x036F), (0x115F, 0x1160), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF),
         (0x200C, 0x200D), (0x20D0, 0x20FF), (0x2800, 0x2800), (0x3164, 0x3164), (0xFE00, 0xFE0F),
         (0xFE20, 0xFE2F), (0xFFA0, 0xFFA0)]

_FORBIDDEN = frozenset(cp for lo, hi in FORBIDDEN for cp in range(lo, hi + 1))
_BLANK = frozenset(cp for lo, hi in BLANK for cp in range(lo, hi + 1))
_BIDI_OR_INVISIBLE = _FORBIDDEN - set(range(0x00, 0x20)) - set(range(0x7F, 0xA0)) \
    - set(range(0xFDD0, 0xFDF0)) - {0xFFFE, 0xFFFF}


def _visible(ch: str) -> bool:
    return not ch.isspace() and ord(ch) not in _BLANK


def clean_title(value: str) -> str:
    """The stored form of a title, or ValueError saying what is wrong (never echoing it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("title must be valid Unicode text (it holds a lone surrogate)") from None
    for ch in value:
        cp = ord(ch)
        if cp not in _FORBIDDEN:
            continue
        if cp in _BIDI_OR_INVISIBLE:
            raise ValueError(f"title must not contain invisible or direction-changing characters (U+{cp:04X})")
        if cp >= 0xFDD0:
            raise ValueError(f"title must not contain Unicode noncharacters (U+{cp:04X})")
        raise ValueError("title must not contain control characters")
    value = value.strip()
    if not any(_visible(ch) for ch in value):
        raise ValueError("title must not be empty")
    if len(value) > TITLE_MAX:
        raise ValueError(f"title must be at most {TITLE_MAX} characters (after trimming)")
    return value


def _class(ranges) -> str:
    return "".join(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in ranges)


# Lone surrogates are not named: JSON Schema validators refuse a pattern that names them, and
# the body parser answers 400 for them before any schema applies.
TITLE_SCHEMA = {
    "minLength": 1, "maxLength": TITLE_MAX,
    "pattern": (f"^[^{_class(FORBIDDEN)}]*[^{_class(FORBIDDEN)}{_class(BLANK)}\\s]"
                f"[^{_class(FORBIDDEN)}]*$"),
}
TITLE_DESCRIPTION = (
    f"1-{TITLE_MAX} characters after trimming whitespace at both ends, at least one of them "
    "visible (not only joiners, combining marks, variation selectors, soft hyphens or fillers); "
    "stored trimmed. Refused: control characters, lone surrogates, invisible and "
    "direction-changing characters (bidi controls U+202A-202E, U+2066-2069, U+200E/U+200F/U+061C, "
    "U+200B, U+2060-206F, U+FEFF, U+180E, U+2028/U+2029) and the noncharacters U+FDD0-FDEF, "
    "U+FFFE, U+FFFF. Emoji and zero-width joiners are fine.")
