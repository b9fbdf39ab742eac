"""How reports lay out a result: each entry's headline score first, groups above their members.

Each task or group of a result holds metrics, each with scores (``exact_match`` ->
``strict-match``, ``flexible-extract``). Reports name a score ``metric`` when the score has
the metric's own name and ``metric.score`` otherwise; the headline is the first of
``PRIMARY_SCORES`` present, else the first score in sorted order.

``entry_tree`` orders the tasks and groups as a tree: the entries no group contains (``mmlu``)
at depth 0, each followed by its members (``mmlu_stem``, then its subjects).
"""

from __future__ import annotations

from collections.abc import Mapping

from .results import EvaluationResult, MetricResult, Score, iter_metric_scores

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
    return {e.metric_key: e.value for e in iter_metric_scores("", metrics)}


def headline_key(names: list[str] | tuple[str, ...] | Mapping[str, object]) -> str | None:
    """The headline among score names (see ``PRIMARY_SCORES``), or None when there is none."""
    present = list(names)
    for key in PRIMARY_SCORES:
        if key in present:
            return key
    return sorted(present)[0] if present else None


def entry_tree(result: EvaluationResult) -> list[tuple[str, int, int]]:
    """``(name, depth, number of members below it)`` of every task and group, parents first."""
    children = {name: list(group.subtasks) for name, group in result.groups.items()}
    contained = {c for subs in children.values() for c in subs}
    names = [*result.groups, *result.tasks]
    out: list[tuple[str, int, int]] = []
    seen: set[str] = set()

    def walk(name: str, depth: int) -> int:
        if name in seen or (name not in result.tasks and name not in result.groups):
            return 0
        seen.add(name)
        index = len(out)
        out.append((name, depth, 0))
        below = sum(walk(child, depth + 1) for child in children.get(name, []))
        out[index] = (name, depth, below)
        return 1 + below

    for name in names:
        if name not in contained:
            walk(name, 0)
    for name in names:  # members of a cycle of groups, if any
        walk(name, 0)
    return out


__all__ = ["PRIMARY_SCORES", "entry_tree", "headline_key", "named_scores"]
