"""``evaluate(target_cfg, eval_cfg, adapter_cfg=None)``: run a benchmark against an endpoint.

::

    from nemo_evaluator.core.evaluate import evaluate
    result = evaluate(target_cfg=target, eval_cfg=config, adapter_cfg=adapter_config)

The run streams the benchmark's documents through the client layer (the adapter chain in
client mode, or the adapter server when ``adapter_cfg.local_port`` is set), appends each
finished document to ``<output_dir>/journal.jsonl``, and writes results.yml/.json,
samples.jsonl and report.html. Running again into the same directory resumes; with
``params.extra["rescore"] = True`` the metrics are recomputed from the journal alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    EvaluationConfig,
    EvaluationTarget,
)
from nvidia_eval_commons.api.results import EvaluationResult
from nvidia_eval_commons.openai_url import switch_endpoint
from nvidia_eval_commons.registry import PluginLoadError, UnknownNameError

from ..benchmarks.base import Benchmark
from ..benchmarks.registry import get_benchmark
from ..benchmarks.repeats import Repeated
from .errors import EvaluationConfigError
from .output import is_disk_error, output_dir_error
from .task_run import TaskRun

__all__ = ["evaluate"]


def evaluate(
    target_cfg: EvaluationTarget | dict[str, Any],
    eval_cfg: EvaluationConfig | dict[str, Any],
    adapter_cfg: AdapterConfig | dict[str, Any] | None = None,
) -> EvaluationResult:
    """Evaluate ``target_cfg``'s endpoint on ``eval_cfg.type`` and return the result.

    ``eval_cfg.type`` may list several benchmarks separated by commas; each then writes to
    ``<output_dir>/<benchmark>`` and the returned result holds all their tasks.
    ``adapter_cfg`` defaults to ``target_cfg.api_endpoint.adapter_config``.
    """
    target = (
        target_cfg
        if isinstance(target_cfg, EvaluationTarget)
        else EvaluationTarget.model_validate(target_cfg)
    )
    config = (
        eval_cfg
        if isinstance(eval_cfg, EvaluationConfig)
        else EvaluationConfig.model_validate(eval_cfg)
    )
    if adapter_cfg is not None and not isinstance(adapter_cfg, AdapterConfig):
        adapter_cfg = AdapterConfig.model_validate(adapter_cfg)
    adapter = adapter_cfg if adapter_cfg is not None else target.api_endpoint.adapter_config
    target.api_endpoint.resolved_api_key()  # an unset api_key_env fails here, before any request
    tasks = config.task_types
    if len(tasks) == 1:
        return _evaluate_task(target, config, adapter, tasks[0], Path(config.output_dir))
    merged = EvaluationResult()
    for task in tasks:
        sub = config.model_copy(
            update={"type": task, "output_dir": str(Path(config.output_dir) / task)}
        )
        res = _evaluate_task(target, sub, adapter, task, Path(sub.output_dir))
        merged.tasks.update(res.tasks)
        merged.groups.update(res.groups)
        merged.metadata = res.metadata
    merged.metadata = merged.metadata.model_copy(update={"task": ",".join(tasks)})
    return merged


def _benchmark(task: str, target: EvaluationTarget, config: EvaluationConfig) -> Benchmark:
    try:
        cls = get_benchmark(task)
    except (UnknownNameError, PluginLoadError) as err:
        raise EvaluationConfigError(str(err)) from None
    etype = target.api_endpoint.endpoint_type
    bench = cls(params=config.params, data_dir=config.params.extra.get("data_dir"))
    if etype not in bench.endpoint_types:  # an instance may narrow its class's types
        want = " or ".join(bench.endpoint_types)
        url = target.api_endpoint.url
        hint = f" (e.g. {alt})" if (alt := switch_endpoint(url, bench.endpoint_types[0])) else ""
        raise EvaluationConfigError(
            f"benchmark '{task}' runs on {want} endpoints but {url} is a "
            f"{etype} endpoint; point the target at a {want} URL{hint} or set its type"
        )
    bench.endpoint_type = etype
    if config.params.repeats > 1:
        return Repeated(bench, repeats=config.params.repeats)
    return bench


def _evaluate_task(
    target: EvaluationTarget,
    config: EvaluationConfig,
    adapter: AdapterConfig | None,
    task: str,
    output_dir: Path,
) -> EvaluationResult:
    """One task; a file-system failure becomes one OutputDirError line (the journal stays)."""
    try:
        return _run_task(target, config, adapter, task, output_dir)
    except OSError as err:
        if is_disk_error(err):
            raise output_dir_error(err, output_dir) from None
        raise


def _run_task(
    target: EvaluationTarget,
    config: EvaluationConfig,
    adapter: AdapterConfig | None,
    task: str,
    output_dir: Path,
) -> EvaluationResult:
    bench = _benchmark(task, target, config)
    run = TaskRun(
        target=target, config=config, adapter=adapter, bench=bench, task=task, output_dir=output_dir
    )
    return run.execute()
