"""report.html shows the recorded interval: clustered where items cluster, else bootstrap."""

from __future__ import annotations

from nemo_evaluator.core.report import interval
from nvidia_eval_commons.api.results import ConfidenceInterval, Score, ScoreStats


def _score(*methods: tuple[str, float, float]) -> Score:
    ivs = [ConfidenceInterval(method=m, level=0.95, low=lo, high=hi) for m, lo, hi in methods]
    return Score(value=0.5, stats=ScoreStats(count=100, stderr=0.05, intervals=ivs))


def test_prefers_clustered_then_bootstrap_then_the_stderr() -> None:
    both = _score(("analytic", 0.40, 0.60), ("bootstrap", 0.41, 0.59), ("clustered", 0.3, 0.7))
    assert interval(both) == (0.3, 0.7)
    assert interval(_score(("analytic", 0.40, 0.60), ("bootstrap", 0.41, 0.59))) == (0.41, 0.59)
    lo, hi = interval(_score())  # type: ignore[misc]
    assert (round(lo, 4), round(hi, 4)) == (0.402, 0.598)
    assert interval(_score(("clustered", -0.1, 1.2))) == (0.0, 1.0)  # a proportion is clipped
