"""Metrics shared by the benchmarks: multiple-choice accuracy, group aggregation, and pass@k
(from :mod:`nemo_evaluator.stats`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from nvidia_eval_commons.api.results import (
    ConfidenceInterval,
    GroupResult,
    MetricResult,
    Score,
    ScoreStats,
    TaskResult,
)

from ..stats.estimators import pass_at_k
from ..stats.intervals import DEFAULT_LEVEL, z_value

__all__ = ["first_argmax", "multiple_choice_scores", "pass_at_k", "pooled_stderr", "weighted_group"]


def first_argmax(values: Sequence[float]) -> int:
    """Index of the largest value, the first one on ties (as ``numpy.argmax``)."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def multiple_choice_scores(
    logprobs: Sequence[float], choices: Sequence[str], gold: int
) -> tuple[dict[str, dict[str, float]], int, int]:
    """lm-eval's ``acc`` and ``acc_norm``: argmax of the log-likelihoods, and of the
    log-likelihoods divided by each choice's length in characters (the choice text without
    the leading target delimiter). Returns the metrics and both predictions."""
    if len(logprobs) != len(choices):
        raise ValueError(f"{len(logprobs)} log-likelihoods for {len(choices)} choices")
    pred = first_argmax(logprobs)
    normed = [lp / float(len(c)) if c else lp for lp, c in zip(logprobs, choices, strict=True)]
    pred_norm = first_argmax(normed)
    metrics = {
        "acc": {"acc": 1.0 if pred == gold else 0.0},
        "acc_norm": {"acc_norm": 1.0 if pred_norm == gold else 0.0},
    }
    return metrics, pred, pred_norm


def pooled_stderr(stderrs: Sequence[float], sizes: Sequence[int]) -> float:
    """lm-eval's ``pooled_sample_stderr``: the stderr of a size-weighted group mean from the
    subtasks' stderrs (pooled variance)."""
    total = sum(sizes)
    if total - len(sizes) <= 0:
        return float("nan")
    var = sum((n - 1) * se**2 * n for se, n in zip(stderrs, sizes, strict=True)) / (
        total - len(sizes)
    )
    return math.sqrt(var / total)


def weighted_group(
    members: Mapping[str, TaskResult | GroupResult], *, metric: str, score: str
) -> GroupResult:
    """A group entry whose ``metric.score`` is the size-weighted (micro) mean of its members,
    with the pooled stderr, as lm-eval aggregates groups with ``weight_by_size: true``."""
    values: list[float] = []
    sizes: list[int] = []
    stderrs: list[float] = []
    for entry in members.values():
        s = entry.metrics[metric].scores[score]
        values.append(s.value)
        sizes.append(s.stats.count)
        stderrs.append(s.stats.stderr or 0.0)
    total = sum(sizes)
    mean = sum(v * n for v, n in zip(values, sizes, strict=True)) / total if total else 0.0
    errors = sum(e.metrics[metric].scores[score].stats.num_errors for e in members.values())
    stderr = pooled_stderr(stderrs, sizes) if len(sizes) > 0 and total > len(sizes) else None
    half = z_value(DEFAULT_LEVEL) * stderr if stderr is not None and math.isfinite(stderr) else None
    stats = ScoreStats(
        count=total,
        sum=sum(v * n for v, n in zip(values, sizes, strict=True)),
        mean=mean,
        stderr=stderr,
        min=min(values) if values else None,
        max=max(values) if values else None,
        num_errors=errors,
        intervals=[]
        if half is None
        else [
            ConfidenceInterval(
                method="analytic",
                level=DEFAULT_LEVEL,
                low=mean - half,
                high=mean + half,
                stderr=stderr,
            )
        ],
    )
    result = MetricResult(scores={score: Score(value=mean, stats=stats)})
    return GroupResult(metrics={metric: result}, subtasks=list(members))
