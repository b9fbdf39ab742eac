"""fast_json gives what ``json`` gives, at the edges where orjson alone would not."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import json
import math

import numpy as np
import pytest

from nemo_evaluator import fast_json

EDGES = [
    {"x": float("nan"), "y": float("-inf"), "z": [1.0, float("inf")]},
    {"big": 123456789012345678901234567890, "neg": -(2**63) - 1, "u64": 2**64 - 1},
    {"s": "\ud800 alone", "t": "caf\u00e9 \U0001f600 \u2028 </script>"},
    {"z": -0.0, "tiny": 5e-324, "small": 1e-05, "f": 2.2250738585072014e-308},
    {"plain": [1, 2.5, "three", None, True], "nested": {"a": {"b": []}}},
    {"np": np.float64(0.25), "list": [np.float64(1.5)]},
]


def _same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


@pytest.mark.parametrize("value", EDGES[:5])
def test_dumps_then_json_reads_back_what_json_would(value: object) -> None:
    assert _same(json.loads(fast_json.dumps(value)), json.loads(json.dumps(value)))


def test_dumps_falls_back_for_types_orjson_does_not_know() -> None:
    out = json.loads(fast_json.dumps(EDGES[5]))
    assert out == {"np": 0.25, "list": [1.5]}


@pytest.mark.parametrize("value", EDGES[:5])
def test_loads_reads_what_json_reads(value: object) -> None:
    text = json.dumps(value)  # NaN, Infinity, escaped lone surrogates, huge integers
    assert _same(fast_json.loads(text), json.loads(text))
    assert _same(fast_json.loads(text.encode()), json.loads(text))


def test_loads_keeps_integers_past_64_bits_exact() -> None:
    assert fast_json.loads('{"n": 123456789012345678901234567890}')["n"] == (
        123456789012345678901234567890
    )
    assert fast_json.loads("[18446744073709551615]") == [2**64 - 1]  # orjson's own range
    # the first integers past it, and the shortest (19 digits) that reach 2**63, as str,
    # bytes and bytearray: orjson reads 2**64 as a float, json as the integer
    for n in (2**64, -(2**64), 2**63, -(2**63) - 1, 10**19):
        for text in (f'{{"q": "x", "n": [{n}]}}', f'{{"n": {n}}}'.encode()):
            assert repr(fast_json.loads(text)) == repr(json.loads(text))  # int, not float
        assert repr(fast_json.loads(bytearray(f"[{n}]".encode()))) == f"[{n}]"
        assert fast_json.may_hold_huge_integers(f'{{"n": {n}}}'.encode())
    # 18 digits (and 18 + "." + 18) cannot be past 64 bits: no walk needed
    assert not fast_json.may_hold_huge_integers(b'{"n": 999999999999999999, "f": 1.5e300}')
    assert not fast_json.may_hold_huge_integers(b"[123456789012345678.123456789012345678]")
    with pytest.raises(json.JSONDecodeError):
        fast_json.loads('{"a": ')


def test_dumps_strict_is_json_any_parser_reads() -> None:
    def refuse(word: str) -> None:
        raise ValueError(word)

    for value in EDGES:
        strict = json.loads(fast_json.dumps_strict(value), parse_constant=refuse)
        assert isinstance(strict, dict)
    out = json.loads(fast_json.dumps_strict(EDGES[0]))
    assert out == {"x": None, "y": None, "z": [1.0, None]}
    np_out = json.loads(fast_json.dumps_strict({"v": np.float64(math.nan), "w": np.float64(2)}))
    assert np_out == {"v": None, "w": 2.0}


def _json_canonical(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class _Key(str):
    pass


class _Count(int):
    pass


CANONICAL = [
    *EDGES[1:5],
    # the float spellings: repr and orjson part below 1e-4 ("1e-05" and "0.00001")
    {"t": 1e-4, "below": 9.999999999999999e-05, "tiny": 1e-05, "z": -1e-9, "big": 1e16},
    {"p": 0.7, "top": 1.0, "zero": 0.0, "neg": -0.0, "huge": 1.7976931348623157e308},
    # keys out of order, beyond the BMP, a key that is not a str, a str subclass
    {"b": 1, "a": 2, "\U00010000": 3, "\uffff": 4, "é": 5},
    {1: "one", "2": "two"},
    {_Key("k"): _Count(3), "v": [_Key("x")]},
    {"stop": ("Q:", "\n\n"), "ctl": "".join(map(chr, range(32))) + '"\\\x7f\u2028'},
    [True, False, None, 2**63 - 1, -(2**63), 2**64 - 1],
]


def _outcome(encode, value: object) -> object:
    """The bytes, or the type of the error raised."""
    try:
        return encode(value)
    except (TypeError, ValueError) as err:
        return type(err)


@pytest.mark.parametrize("value", CANONICAL)
def test_canonical_is_json_byte_for_byte(value: object) -> None:
    assert _outcome(fast_json.canonical, value) == _outcome(_json_canonical, value)


def test_canonical_matches_json_on_every_float_spelling() -> None:
    # every power of two and ten a double holds, and their neighbours: orjson and repr
    # part only below 1e-4, where canonical leaves the encoding to json
    values = [2.0**k for k in range(-1074, 1024)] + [10.0**k for k in range(-323, 309)]
    values += [math.nextafter(v, math.inf) for v in values]
    for v in values:
        assert fast_json.canonical({"v": v, "m": -v}) == _json_canonical({"v": v, "m": -v}), v


def test_canonical_fails_where_json_fails_and_writes_what_it_writes() -> None:
    # NaN: json writes the bare word; numpy's float64 is a float to json, its int64 is not;
    # a lone surrogate: json writes it and the UTF-8 encoding refuses it; keys of mixed
    # types: sorting refuses them
    cases = [{"x": float("nan")}, {"x": np.float64(0.5), "y": np.float64(1e-5)}]
    cases += [{"x": np.int64(1)}, {"s": "\ud800"}, {1: 2, "a": 3}]
    outcomes = [_outcome(fast_json.canonical, v) for v in cases]
    expected = [b'{"x":NaN}', b'{"x":0.5,"y":1e-05}', TypeError, UnicodeEncodeError, TypeError]
    assert outcomes == expected
    assert outcomes == [_outcome(_json_canonical, v) for v in cases]


def test_dumps_leaves_subclasses_and_types_json_refuses_to_json() -> None:
    @dataclasses.dataclass
    class Point:
        x: float

    # orjson would encode a dict subclass itself and write its NaN as null
    ordered = collections.OrderedDict([("b", float("nan")), ("a", 1e-05)])
    assert fast_json.dumps({"o": ordered}) == b'{"o":{"b":NaN,"a":1e-05}}'
    for refused in (Point(1.0), datetime.date(2026, 12, 2)):
        with pytest.raises(TypeError):
            fast_json.dumps({"v": refused})
        with pytest.raises(TypeError):
            json.dumps({"v": refused})
