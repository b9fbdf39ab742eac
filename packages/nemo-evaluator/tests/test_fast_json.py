"""fast_json gives what ``json`` gives, at the edges where orjson alone would not."""

from __future__ import annotations

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
