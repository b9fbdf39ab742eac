"""The result schema: tasks and groups, each with metrics, each metric with scores."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from ._strict import StrictModel

RESULTS_SCHEMA_VERSION = "1.1"
"""Version of the results.json layout: the minor part grows with added fields, the major part
changes when a field is renamed or removed. Its JSON Schema is docs/results.schema.json."""


class ConfidenceInterval(StrictModel):
    """A two-sided interval of a score at ``level``; how it was computed is recorded with it."""

    method: str
    """``analytic`` (mean +- z * stderr), ``bootstrap`` (seeded percentile bootstrap) or
    ``clustered`` (cluster-robust stderr over documents, subjects or groups)."""
    level: float = Field(gt=0.0, lt=1.0)
    low: float
    high: float
    stderr: float | None = None
    seed: int | None = None
    """Seed of the bootstrap's resampling."""
    resamples: int | None = None
    clusters: int | None = None
    """Number of clusters behind a clustered interval."""


class ScoreStats(StrictModel):
    """Statistics of the per-sample values behind a score."""

    count: int = Field(ge=0)
    """Number of scored samples (errors excluded)."""
    sum: float | None = None
    mean: float | None = None
    stddev: float | None = None
    """Sample standard deviation (n - 1)."""
    stderr: float | None = None
    """Standard error of the mean (stddev / sqrt(count)); ``None`` below two samples."""
    min: float | None = None
    max: float | None = None
    num_errors: int = Field(default=0, ge=0)
    """Samples that failed after their retries and were left out of the score."""
    intervals: list[ConfidenceInterval] = Field(default_factory=list)
    """Confidence intervals of the mean (see docs/statistics.md)."""


class Score(StrictModel):
    value: float
    stats: ScoreStats


class MetricResult(StrictModel):
    """One metric (e.g. ``exact_match``) with its scores (e.g. ``strict-match``)."""

    scores: dict[str, Score] = Field(default_factory=dict)


class TaskResult(StrictModel):
    metrics: dict[str, MetricResult] = Field(default_factory=dict)


class GroupResult(StrictModel):
    """An aggregate over several tasks (e.g. an MMLU category)."""

    metrics: dict[str, MetricResult] = Field(default_factory=dict)
    subtasks: list[str] = Field(default_factory=list)


class RunMetadata(StrictModel):
    """What produced a result: enough to reproduce it."""

    task: str | None = None
    model_id: str | None = None
    endpoint_url: str | None = None
    endpoint_type: str | None = None
    started_at: str | None = None
    """ISO 8601 time, UTC."""
    finished_at: str | None = None
    duration_s: float | None = None
    num_samples: int | None = None
    num_errors: int | None = None
    num_cache_hits: int | None = None
    token_usage: dict[str, int] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class ScoreEntry:
    """One score of a result, with where it sits: ``name`` (a task or group) -> ``metric`` ->
    ``score``. ``label`` is ``score`` unless it repeats the metric's name (then empty), and
    ``key`` is the flat ``name.metric[.score]`` used by tables and exporters."""

    name: str
    metric: str
    score: str
    value: Score
    is_group: bool = False

    @property
    def label(self) -> str:
        return "" if self.score == self.metric else self.score

    @property
    def metric_key(self) -> str:
        """``metric`` or ``metric.score``: the key within one task."""
        return f"{self.metric}.{self.score}" if self.label else self.metric

    @property
    def key(self) -> str:
        return f"{self.name}.{self.metric_key}"


def iter_metric_scores(
    name: str, metrics: Mapping[str, MetricResult], *, is_group: bool = False
) -> Iterator[ScoreEntry]:
    """Every score of one task or group's ``metrics``, in order."""
    for metric, result in metrics.items():
        for score, value in result.scores.items():
            yield ScoreEntry(name, metric, score, value, is_group)


class EvaluationResult(StrictModel):
    schema_version: str = RESULTS_SCHEMA_VERSION
    """Layout version of this file (see ``RESULTS_SCHEMA_VERSION``)."""
    tasks: dict[str, TaskResult] = Field(default_factory=dict)
    groups: dict[str, GroupResult] = Field(default_factory=dict)
    metadata: RunMetadata = Field(default_factory=RunMetadata)

    def iter_scores(self) -> Iterator[ScoreEntry]:
        """Every score of the tasks, then of the groups, in file order."""
        for is_group, kind in ((False, self.tasks), (True, self.groups)):
            for name, entry in kind.items():
                yield from iter_metric_scores(name, entry.metrics, is_group=is_group)

    def flat_metrics(self) -> dict[str, float]:
        """``{"task.metric.score": value}`` for tasks and groups, for tables and exporters."""
        return {e.key: e.value.value for e in self.iter_scores()}

    def __str__(self) -> str:
        parts = []
        for key, value in self.flat_metrics().items():
            parts.append(f"{key}={value:.4f}")
        return "EvaluationResult(" + ", ".join(parts) + ")"
