"""JSON by orjson where it gives what the standard library gives, by ``json`` elsewhere.

orjson parses and encodes dataset rows and output lines several times faster than ``json``
(the encodings of a gsm8k 5-shot sample's prompt were 18% of the evaluate core's time), but
it differs at the edges: it refuses NaN, Infinity and lone surrogates when parsing, reads a
whole number past 64 bits as a float, writes NaN and Infinity as ``null``, spells floats
below 1e-4 otherwise (``0.00001`` for ``1e-05``), refuses integers past 64 bits and lone
surrogates, and encodes types ``json`` refuses (dataclasses, datetimes, enums) or treats as
their base type (subclasses of str, int, float, dict). :func:`loads` and :func:`dumps` send
those cases to ``json``, so a value reads and writes back as ``json`` would have it;
:func:`canonical` gives the very bytes of ``json.dumps(..., sort_keys=True)`` (the wire body
and the cache key).

Which values orjson may take is decided by one walk over the value that looks at exact
types only (``type(v) is float``, not ``isinstance``): half the cost of an ``isinstance``
walk, and anything else sends the value to ``json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

_TWO_63 = float(2**63)
# a subclass, a dataclass or a datetime reaches ``default`` (none here: TypeError) instead of
# being encoded by orjson, so that it goes to ``json``
_PASS = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
_PASS |= orjson.OPT_PASSTHROUGH_DATETIME
_CANONICAL = _PASS | orjson.OPT_SORT_KEYS
_LEAVES = frozenset((str, int, bool, type(None)))
_DIGITS_KEPT = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))  # digit: "0", else " "
_NINETEEN_DIGITS = b"0" * 19


def loads(text: str | bytes, *, huge_integers: bool = True) -> Any:
    """``json.loads(text)``; raises ``json.JSONDecodeError`` as it does.

    ``huge_integers=False``: the caller knows ``text`` has no integer past 64 bits (no run of
    19 digits: :func:`may_hold_huge_integers` of the whole file), the one thing orjson reads
    otherwise than ``json`` without refusing it (as a float), and the walk that looks for
    one is skipped."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    if not huge_integers or _plain(value, _not_huge_whole):
        return value
    return json.loads(text)


def may_hold_huge_integers(raw: bytes) -> bool:
    """Whether ``raw`` has a run of 19 digits, which an integer past 64 bits needs (one C
    pass: a regular expression takes ten times longer than parsing the text)."""
    return _NINETEEN_DIGITS in raw.translate(_DIGITS_KEPT)


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON; NaN and Infinity written as ``json`` writes them."""
    if _plain(value, math.isfinite):
        try:
            return orjson.dumps(value, option=_PASS)
        except TypeError:  # an integer past 64 bits, a lone surrogate, a key not a str
            pass
    # ASCII escapes: a lone surrogate (which orjson refuses) has no UTF-8 encoding
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def canonical(value: Any) -> bytes:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)``
    encoded as UTF-8, byte for byte (and its errors: a lone surrogate, a type it refuses)."""
    if _plain(value, _spelled_as_repr):
        try:
            return orjson.dumps(value, option=_CANONICAL)
        except TypeError:
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def dumps_strict(value: Any) -> bytes:
    """``value`` as JSON that any parser reads: NaN and Infinity become ``null`` (what a
    browser's ``JSON.parse`` needs; ``json`` would write the bare words it refuses)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(_nulled(value), separators=(",", ":")).encode("ascii")


def _not_huge_whole(v: float) -> bool:
    """False for a float orjson may have read from an integer past 64 bits."""
    return abs(v) < _TWO_63 or not v.is_integer()


def _spelled_as_repr(v: float) -> bool:
    """Whether orjson writes ``v`` as ``repr`` does: zero, or finite and at least 1e-4 in
    magnitude (checked against every power of two and ten a double holds)."""
    return v == 0.0 or 1e-4 <= abs(v) < math.inf


def _plain(value: Any, float_ok: Callable[[float], bool]) -> bool:
    """Whether ``value`` holds only dicts, lists, tuples, str, int, bool, None and floats
    that ``float_ok`` accepts, every one of exactly that type."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            stack.extend(v.values())
        elif t is list or t is tuple:
            stack.extend(v)
        elif t is float:
            if not float_ok(v):
                return False
        elif t not in _LEAVES:
            return False
    return True


def _nulled(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nulled(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nulled(v) for v in value]
    return value


__all__ = ["canonical", "dumps", "dumps_strict", "loads", "may_hold_huge_integers"]
