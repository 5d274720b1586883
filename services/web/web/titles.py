"""What a todo title may hold: the one rule, used by the API models and by every store before
it writes (so nothing unreadable can ever be stored, whichever store is configured).

A title is trimmed (Unicode whitespace at both ends) and then measured: 1-200 code points,
with at least one letter, digit, punctuation mark or symbol. Refused anywhere in it:
- control characters (Unicode Cc: C0, DEL, C1; tabs and newlines included);
- lone surrogates (not Unicode text; no UTF-8 form exists);
- invisible and direction-changing characters: bidi embeddings, overrides and isolates
  (U+202A-202E, U+2066-2069), the marks U+200E, U+200F, U+061C, zero-width space U+200B, word
  joiner, invisible operators and deprecated format characters U+2060-206F, U+FEFF, U+180E, line/paragraph separators
  U+2028/2029. They let a title look like something else (e.g. "\\u202etxt.exe").
- noncharacters (U+FDD0-FDEF and every U+xFFFE/U+xFFFF).
Kept: every script, emoji with zero-width joiners (U+200C/U+200D are needed by several
scripts and emoji sequences), combining marks next to a base character, private-use characters.
"""

from __future__ import annotations

import unicodedata

TITLE_MAX = 200

_INVISIBLE = frozenset(
    [0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF]
    + list(range(0x202A, 0x202F)) + list(range(0x2060, 0x2070)))


def _noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def clean_title(value: str) -> str:
    """The stored form of a title, or ValueError saying what is wrong (never echoing it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("title must be valid Unicode text (it holds a lone surrogate)") from None
    for ch in value:
        cp = ord(ch)
        if unicodedata.category(ch) == "Cc":
            raise ValueError("title must not contain control characters")
        if cp in _INVISIBLE:
            raise ValueError(f"title must not contain invisible or direction-changing characters (U+{cp:04X})")
        if _noncharacter(cp):
            raise ValueError(f"title must not contain Unicode noncharacters (U+{cp:04X})")
    value = value.strip()
    if not any(unicodedata.category(ch)[0] in "LNPS" for ch in value):
        raise ValueError("title must not be empty")
    if len(value) > TITLE_MAX:
        raise ValueError(f"title must be at most {TITLE_MAX} characters (after trimming)")
    return value


_FORBIDDEN = (r"\x00-\x1f\x7f-\x9f\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f"
              r"\ufeff\ufdd0-\ufdef\ufffe\uffff")
# The same rule in the OpenAPI schema, as near as an ECMA-262 pattern gets (the validator
# gives clearer messages and also refuses the supplementary noncharacters U+1FFFE...). Lone
# surrogates are not named: JSON Schema validators refuse a pattern that names them, and the
# body parser answers 400 for them before any schema applies.
TITLE_SCHEMA = {
    "minLength": 1, "maxLength": TITLE_MAX,
    "pattern": rf"^[^{_FORBIDDEN}]*[^{_FORBIDDEN}\s\u200c\u200d\u0300-\u036f][^{_FORBIDDEN}]*$",
}
TITLE_DESCRIPTION = (
    f"1-{TITLE_MAX} characters after trimming whitespace at both ends, with at least one "
    "letter, digit, punctuation mark or symbol; stored trimmed. Refused: control characters, "
    "lone surrogates, invisible and direction-changing characters (bidi controls U+202A-202E, "
    "U+2066-2069, U+200E/U+200F/U+061C, U+200B, U+2060-206F, U+FEFF, U+180E, U+2028/U+2029) and "
    "noncharacters (U+FDD0-FDEF, U+xFFFE/U+xFFFF). Emoji and zero-width joiners are fine.")
