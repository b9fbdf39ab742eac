"""Task and group results of lm-eval tasks, computed by lm-eval's own functions.

Per task: each ``(metric, filter)``'s per-document values go through the task's
``aggregation()`` function, and its standard error through lm-eval's ``stderr_for_metric``
(analytic for means, bootstrap for the metrics lm-eval bootstraps). Per group, children first:
lm-eval's ``Group.aggregate`` over the task results (e.g. MMLU's size-weighted means with the
pooled standard error). Then both are restated in our result schema: lm-eval's
``"acc,none"`` becomes metric ``acc`` with score ``acc`` (the filter ``none`` takes the
metric's name, as the native benchmarks do), ``"exact_match,strict-match"`` metric
``exact_match`` with score ``strict-match``.
"""

from __future__ import annotations

import math
from typing import Any

from nvidia_eval_commons.api.results import (
    GroupResult,
    MetricResult,
    Score,
    ScoreStats,
    TaskResult,
)

from ..benchmarks.base import SampleScore


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def task_metrics(
    task: Any, values: dict[str, list[Any]], *, bootstrap_iters: int
) -> dict[str, Any]:
    """lm-eval's result dict of one task (``{"acc,none": v, "acc_stderr,none": s, ...}``)."""
    from lm_eval.api.metrics import mean, stderr_for_metric

    out: dict[str, Any] = {"alias": task.get_config("task_alias") or task.task_name}
    sample_len = 0
    functions = task.aggregation()
    for key, items in values.items():
        metric, _, filter_key = key.partition(",")
        agg = functions.get(metric, mean)
        out[key] = agg(items)
        stderr = stderr_for_metric(metric=agg, bootstrap_iters=bootstrap_iters)
        out[f"{metric}_stderr,{filter_key}"] = (
            stderr(items) if stderr is not None and len(items) > 1 else "N/A"
        )
        sample_len = max(sample_len, len(items))
    out["sample_len"] = sample_len
    return out


def _bottom_up(groups: dict[str, Any]) -> list[Any]:
    """Groups with every subgroup before its parent."""
    from lm_eval.api.group import Group

    order: list[Any] = []
    seen: set[str] = set()

    def visit(group: Any) -> None:
        if group.name in seen:
            return
        seen.add(group.name)
        for child in group:
            if isinstance(child, Group):
                visit(child)
        order.append(group)

    for group in groups.values():
        visit(group)
    return order


def _schema(
    metrics: dict[str, Any], *, counts: dict[str, int], num_errors: int
) -> dict[str, MetricResult]:
    out: dict[str, MetricResult] = {}
    for key, value in metrics.items():
        metric, sep, filter_key = key.partition(",")
        if not sep or metric.endswith("_stderr"):
            continue
        number = _number(value)
        if number is None:
            continue
        stderr = _number(metrics.get(f"{metric}_stderr,{filter_key}"))
        stats = ScoreStats(
            count=int(counts.get(key, metrics.get("sample_len", 0)) or 0),
            mean=number,
            stderr=stderr,
            num_errors=num_errors,
        )
        name = metric if filter_key == "none" else filter_key
        out.setdefault(metric, MetricResult()).scores[name] = Score(value=number, stats=stats)
    return out


def aggregate_results(
    *,
    tasks: dict[str, Any],
    groups: dict[str, Any],
    scores: list[SampleScore],
    prefix: str,
    bootstrap_iters: int,
    num_errors: int = 0,
) -> tuple[dict[str, TaskResult], dict[str, GroupResult]]:
    """Our task and group results from the scored documents (see the module docstring)."""
    per_task: dict[str, dict[str, list[Any]]] = {name: {} for name in tasks}
    for score in scores:
        raw = score.extra.get("lm_eval") or {}
        bucket = per_task.setdefault(str(score.group), {})
        for key, value in raw.items():
            bucket.setdefault(key, []).append(value)
    lm_results: dict[str, dict[str, Any]] = {
        name: task_metrics(tasks[name], values, bootstrap_iters=bootstrap_iters)
        for name, values in per_task.items()
        if name in tasks and values
    }
    out_tasks = {
        prefix + name: TaskResult(metrics=_schema(m, counts={}, num_errors=num_errors))
        for name, m in lm_results.items()
    }
    out_groups: dict[str, GroupResult] = {}
    for group in _bottom_up(groups):
        metrics = group.aggregate(lm_results)
        lm_results[group.name] = metrics
        if not group.has_aggregation:
            continue
        out_groups[prefix + group.name] = GroupResult(
            metrics=_schema(
                metrics, counts=dict(metrics.get("sample_count") or {}), num_errors=num_errors
            ),
            subtasks=[prefix + n for n in group.child_names],
        )
    return out_tasks, out_groups
