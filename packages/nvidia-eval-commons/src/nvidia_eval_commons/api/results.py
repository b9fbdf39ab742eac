"""The result schema: tasks and groups, each with metrics, each metric with scores."""

from __future__ import annotations

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


class EvaluationResult(StrictModel):
    schema_version: str = RESULTS_SCHEMA_VERSION
    """Layout version of this file (see ``RESULTS_SCHEMA_VERSION``)."""
    tasks: dict[str, TaskResult] = Field(default_factory=dict)
    groups: dict[str, GroupResult] = Field(default_factory=dict)
    metadata: RunMetadata = Field(default_factory=RunMetadata)

    def flat_metrics(self) -> dict[str, float]:
        """``{"task.metric.score": value}`` for tasks and groups, for tables and exporters."""
        flat: dict[str, float] = {}
        for kind in (self.tasks, self.groups):
            for name, entry in kind.items():
                for metric, result in entry.metrics.items():
                    for score, value in result.scores.items():
                        key = f"{name}.{metric}" if score == metric else f"{name}.{metric}.{score}"
                        flat[key] = value.value
        return flat

    def __str__(self) -> str:
        parts = []
        for key, value in self.flat_metrics().items():
            parts.append(f"{key}={value:.4f}")
        return "EvaluationResult(" + ", ".join(parts) + ")"
