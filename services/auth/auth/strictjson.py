"""Strict JSON for request bodies (the same file is in services/auth and services/web).

Python's json module accepts more than RFC 8259 allows, and what it lets through turns into
500s further on: NaN and Infinity (the response encoder refuses them), numbers too large for a
float, lone UTF-16 surrogates such as "\\ud800" (no UTF-8 encoding exists for them), nesting
deep enough to exhaust the stack. parse() refuses all of these, plus duplicate member names
(which copy of a field would count is ambiguous) and text that is not UTF-8, following I-JSON
(RFC 7493). Every refusal is a BadJson whose message says what was wrong, never what was sent.
"""

from __future__ import annotations

import json
import math

MAX_DEPTH = 32  # our bodies are flat objects; real clients never nest this deep


class BadJson(ValueError):
    pass


def _no_constant(name: str):
    raise BadJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson("a number is too large")
    return value


def _unique_members(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise BadJson("an object has the same member name twice")
    return out


def _check_tree(value: object) -> None:
    """Depth and well-formed strings, without recursion (a hostile tree cannot blow the stack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadJson(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_string(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadJson("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff); "
                      "text must be valid Unicode") from None


def parse(body: bytes) -> object:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("it is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float,
                           object_pairs_hook=_unique_members)
    except BadJson:
        raise
    except RecursionError:
        raise BadJson(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BadJson(f"{exc.msg} at position {exc.pos}") from None
    except ValueError:  # an integer with more digits than Python converts
        raise BadJson("a number is too large") from None
    _check_tree(value)
    return value
