"""A finished run's :class:`EvaluationResult`: the benchmark's aggregates of the tallied
scores, and the metadata (counts, timings, versions, the config without its key)."""

from __future__ import annotations

import time
from typing import Any, Protocol

from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    EvaluationConfig,
    EvaluationTarget,
)
from nvidia_eval_commons.api.results import EvaluationResult, RunMetadata

from ..benchmarks.base import Benchmark
from ..benchmarks.repeats import Repeated
from .run_config import target_without_key
from .sample_record import Tally
from .task_setup import now_iso
from .versions import versions


class FinishedRun(Protocol):
    """What the result is made of: the attributes of a :class:`~.task_run.TaskRun` it reads
    (a protocol, so that this module does not import the one that calls it)."""

    target: EvaluationTarget
    config: EvaluationConfig
    adapter: AdapterConfig | None
    bench: Benchmark
    task: str
    model_id: str | None
    docs: list[dict[str, Any]]
    started: str
    t0: float
    rescore: bool
    resumed: int
    fraction: float


def run_result(run: FinishedRun, t: Tally, *, inference_s: float) -> EvaluationResult:
    """results.yml of ``run``: the aggregates of the tallied scores and the run's metadata."""
    tasks, groups = run.bench.aggregate(t.scores, num_errors=t.errors)
    duration = time.perf_counter() - run.t0
    ep, n = run.target.api_endpoint, len(run.docs)
    return EvaluationResult(
        tasks=tasks,
        groups=groups,
        metadata=RunMetadata(
            task=run.task,
            model_id=run.model_id,
            endpoint_url=ep.url,
            endpoint_type=ep.endpoint_type,
            started_at=run.started,
            finished_at=now_iso(),
            duration_s=round(duration, 3),
            num_samples=n,
            num_errors=t.errors,
            num_cache_hits=t.cache_hits,
            token_usage=t.usage,
            versions=versions(),
            config={
                "config": run.config.model_dump(mode="json"),
                "target": target_without_key(run.target),
                "adapter": (
                    run.adapter.model_dump(mode="json") if run.adapter is not None else None
                ),
            },
            extra={
                "counts": {
                    "samples": n,
                    "scored": len(t.scores),
                    "errors": t.errors,
                    "missing": t.missing,
                    "resumed_from_journal": 0 if run.rescore else run.resumed,
                    "cache_hits": t.cache_hits,
                },
                "timings": {
                    "inference_s": round(inference_s, 3),
                    "total_s": round(duration, 3),
                },
                "max_error_fraction": run.fraction,
                "dataset": run.bench.describe_dataset(),
                **(
                    {"repeats": {"n": run.bench.repeats, "seeds": run.bench.seeds()}}
                    if isinstance(run.bench, Repeated)
                    else {}
                ),
            },
        ),
    )


__all__ = ["run_result"]
