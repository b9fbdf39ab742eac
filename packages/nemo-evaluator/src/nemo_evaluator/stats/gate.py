"""Regression gates: ``mmlu.acc>=-0.01`` fails only when B is significantly worse than A by
more than the margin.

``KEY>=M`` asks that ``mean(B) - mean(A) >= M``; it fails when the one-sided
``(1 - alpha)`` upper bound of the paired bootstrap (the ``1 - 2 alpha`` two-sided interval's
upper end) is below ``M``. ``KEY<=M`` (for metrics where lower is better) fails when the
lower bound is above ``M``. Without a significant violation the gate passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .compare import Comparison, ComparisonError
from .paired import paired_bootstrap

_GATE = re.compile(
    r"^\s*(?P<key>[^<>=\s]+)\s*(?P<op>>=|<=)\s*(?P<margin>[-+]?[0-9.]+(e[-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class Gate:
    key: str
    op: str
    margin: float

    @classmethod
    def parse(cls, text: str) -> Gate:
        m = _GATE.match(text)
        if m is None:
            raise ComparisonError(
                f"gate '{text}' is not KEY>=MARGIN or KEY<=MARGIN (e.g. 'mmlu.acc>=-0.01')"
            )
        return cls(m["key"], m["op"], float(m["margin"]))

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.margin:g}"


@dataclass(frozen=True)
class GateVerdict:
    gate: Gate
    passed: bool
    difference: float
    bound: float
    """The one-sided bound that was held against the margin."""
    alpha: float

    def line(self) -> str:
        word = "PASS" if self.passed else "FAIL"
        side = "upper" if self.gate.op == ">=" else "lower"
        why = "not significantly" if self.passed else "significantly"
        return (
            f"{word} {self.gate}: difference {self.difference:+.4f}, one-sided {1 - self.alpha:.0%} "
            f"{side} bound {self.bound:+.4f}; {why} beyond the margin {self.gate.margin:+g}"
        )


def check_gate(comparison: Comparison, gate: Gate) -> GateVerdict:
    """The verdict of one gate on a comparison (at its alpha, resamples and seed)."""
    try:
        m = comparison.metric(gate.key)
    except KeyError as err:
        raise ComparisonError(f"gate {gate}: {err.args[0]}") from None
    settings = comparison.settings
    alpha = float(settings.get("alpha", 0.05))
    interval = paired_bootstrap(
        m.scores_a,
        m.scores_b,
        level=1.0 - 2.0 * alpha,
        resamples=int(settings.get("resamples", 1000)),
        seed=int(settings.get("seed", 0)),
    )
    if gate.op == ">=":
        bound, passed = interval.high, interval.high >= gate.margin
    else:
        bound, passed = interval.low, interval.low <= gate.margin
    return GateVerdict(gate, passed, m.difference, bound, alpha)


def check_gates(comparison: Comparison, gates: list[str]) -> list[GateVerdict]:
    return [check_gate(comparison, Gate.parse(g)) for g in gates]
