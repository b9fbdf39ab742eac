"""The headline score of a task: the one number a report shows first.

Each task or group of a result holds metrics, each with scores (``exact_match`` ->
``strict-match``, ``flexible-extract``). Reports name a score ``metric`` when the score has
the metric's own name and ``metric.score`` otherwise; the headline is the first of
``PRIMARY_SCORES`` present, else the first score in sorted order.
"""

from __future__ import annotations

from collections.abc import Mapping

from .results import MetricResult, Score

PRIMARY_SCORES: tuple[str, ...] = (
    "exact_match.strict-match",
    "exact_match.flexible-extract",
    "acc_norm",
    "acc",
    "pass@1",
)
"""The preferred headline scores, first present wins (lm-eval's usual reporting choice)."""


def named_scores(metrics: Mapping[str, MetricResult]) -> dict[str, Score]:
    """``{"metric" or "metric.score": Score}`` in the result's order."""
    return {
        (metric if name == metric else f"{metric}.{name}"): score
        for metric, result in metrics.items()
        for name, score in result.scores.items()
    }


def headline_key(names: list[str] | tuple[str, ...] | Mapping[str, object]) -> str | None:
    """The headline among score names (see ``PRIMARY_SCORES``), or None when there is none."""
    present = list(names)
    for key in PRIMARY_SCORES:
        if key in present:
            return key
    return sorted(present)[0] if present else None


__all__ = ["PRIMARY_SCORES", "headline_key", "named_scores"]
