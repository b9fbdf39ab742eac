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

import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    EvaluationConfig,
    EvaluationTarget,
)
from nvidia_eval_commons.api.results import EvaluationResult, RunMetadata
from nvidia_eval_commons.registry import PluginLoadError, UnknownNameError

from ..adapters.switch_interval import ShortSwitchInterval
from ..benchmarks.base import Benchmark, GenerationRequest, SampleScore
from ..benchmarks.registry import get_benchmark
from ..benchmarks.repeats import Repeated
from .client import ModelClient
from .display import ProgressDisplay, print_summary, quiet_requested
from .endpoint import HttpTransport, endpoint_path, resolve_model_id
from .errors import EvaluationConfigError, TooManyErrorsError
from .failures import summary_lines
from .journal import JOURNAL_NAME, Journal
from .output import (
    is_disk_error,
    output_dir_error,
    prepare_output_dir,
    write_results,
    write_run_config,
    write_samples,
)
from .preflight import preflight
from .report import write_report
from .runner import RunStats, allowed_errors, outputs_from_json, run_docs
from .settings import (
    max_error_fraction,
    result_settings,
    run_config,
    target_without_key,
    versions,
)

__all__ = ["evaluate"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
        hint = f" (e.g. {alt})" if (alt := _url_of_type(url, bench.endpoint_types[0])) else ""
        raise EvaluationConfigError(
            f"benchmark '{task}' runs on {want} endpoints but {url} is a "
            f"{etype} endpoint; point the target at a {want} URL{hint} or set its type"
        )
    bench.endpoint_type = etype
    if config.params.repeats > 1:
        return Repeated(bench, repeats=config.params.repeats)
    return bench


def _url_of_type(url: str, endpoint_type: str) -> str | None:
    """``url`` with its OpenAI path switched to ``endpoint_type``'s, when it has one."""
    chat, completions = "/chat/completions", "/completions"
    if endpoint_type == "completions" and chat in url:
        return url.replace(chat, completions)
    if endpoint_type == "chat" and completions in url and chat not in url:
        return url.replace(completions, chat)
    return None


def _ordered(docs: list[dict[str, Any]], seed: Any) -> list[dict[str, Any]]:
    """The documents in the run's order: as loaded, or shuffled by ``params.extra.order_seed``
    (so a growing ``limit_samples`` takes the same random items first)."""
    if seed is None:
        return docs
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise EvaluationConfigError(f"params.extra.order_seed={seed!r} must be an integer")
    return [docs[i] for i in np.random.default_rng(seed).permutation(len(docs))]


def _resume_hint(output_dir: Path, target: EvaluationTarget) -> str:
    cmd = f"nemo-evaluator run --resume {shlex.quote(str(output_dir))}"
    ep = target.api_endpoint
    if ep.api_key_env is not None:
        cmd += f" --api-key-env {ep.api_key_env}"
    elif ep.api_key is not None:
        cmd += " --api-key-env VAR_HOLDING_YOUR_KEY"
    return cmd


def _build_pipeline(
    stack: ExitStack,
    target: EvaluationTarget,
    config: EvaluationConfig,
    adapter: AdapterConfig | None,
    output_dir: Path,
) -> tuple[Any, Any]:
    """The adapter pipeline and the transport the client sends through."""
    from ..adapters.pipeline import AdapterPipeline

    ep = target.api_endpoint
    upstream = adapter.api_url if adapter is not None and adapter.api_url else ep.url
    params = config.params
    pipeline = AdapterPipeline.from_config(
        adapter,
        upstream_url=upstream,
        output_dir=output_dir,
        endpoint_type=ep.endpoint_type,
        api_key=ep.resolved_api_key(),
        max_retries=params.max_retries,
        request_timeout=params.request_timeout,
        sample_timeout=params.sample_timeout,
    )
    stack.callback(pipeline.close)
    if adapter is not None and adapter.local_port is not None:
        server = pipeline.serve(port=adapter.local_port or None)
        stack.callback(server.stop)
        url = server.url.rstrip("/") + endpoint_path(upstream)
        # the adapter server retries upstream; allow for that in the client's timeout
        timeout = params.request_timeout * (params.max_retries + 1) + 30.0
        return pipeline, HttpTransport(url, api_key=None, timeout=timeout)
    return pipeline, pipeline


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
    params = config.params
    extra = params.extra
    rescore = bool(extra.get("rescore"))
    fraction = max_error_fraction(params)
    bench = _benchmark(task, target, config)
    docs = bench.limit_docs(
        _ordered(bench.load_docs(), extra.get("order_seed")), params.limit_samples
    )
    bench.preflight()
    ep = target.api_endpoint
    settings = result_settings(task=task, target=target, params=params, adapter=adapter)
    prepare_output_dir(output_dir)
    journal = Journal(output_dir / JOURNAL_NAME, settings=settings).open()
    if not rescore:
        write_run_config(run_config(target=target, eval_cfg=config, adapter=adapter), output_dir)
    started, t0 = _now(), time.perf_counter()
    stats = RunStats()
    model_id = ep.model_id
    done = journal.done_ids()
    resumed = sum(1 for d in docs if str(d["doc_id"]) in done)
    todo = [] if rescore else [d for d in docs if str(d["doc_id"]) not in done]
    quiet = quiet_requested(extra)
    stopped: TooManyErrorsError | None = None
    try:
        if todo:
            with ExitStack() as stack:
                stack.enter_context(ShortSwitchInterval())
                if extra.get("preflight", True) is not False:
                    upstream = (
                        adapter.api_url if adapter is not None and adapter.api_url else ep.url
                    )
                    model_id = preflight(
                        upstream,
                        endpoint_type=ep.endpoint_type,
                        api_key=ep.resolved_api_key(),
                        model_id=model_id,
                    )
                pipeline, transport = _build_pipeline(stack, target, config, adapter, output_dir)
                if model_id is None:
                    model_id = resolve_model_id(
                        ep.url, api_key=ep.resolved_api_key(), timeout=params.request_timeout
                    )
                client = ModelClient(
                    transport,
                    endpoint_type=ep.endpoint_type,
                    model_id=model_id,
                    max_retries=params.max_retries,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    seed=params.seed,
                    loglikelihood_batch_size=int(extra.get("loglikelihood_batch_size", 16)),
                    sample_timeout=params.sample_timeout,
                )
                progress = stack.enter_context(
                    ProgressDisplay(
                        task=task, total=len(docs), completed=resumed, enabled=not quiet
                    )
                )
                finished_hook = getattr(pipeline, "sample_finished", None)

                def on_finished(record: dict[str, Any]) -> None:
                    progress.advance(error=bool(record["error"]))
                    if finished_hook is not None:
                        finished_hook()

                stats = run_docs(
                    bench=bench,
                    client=client,
                    docs=todo,
                    journal=journal,
                    parallelism=params.parallelism,
                    total=len(docs),
                    max_error_fraction=fraction,
                    on_finished=on_finished,
                )
    except KeyboardInterrupt:
        journal.close()
        saved = len(journal.done_ids() & {str(d["doc_id"]) for d in docs})
        print(
            f"\nInterrupted: {saved} of {len(docs)} samples are saved in {journal.path}. "
            f"Resume with: {_resume_hint(output_dir, target)}",
            file=sys.stderr,
            flush=True,
        )
        raise
    except TooManyErrorsError as err:
        # still write samples.jsonl and report.html for what finished, then raise
        stopped = TooManyErrorsError(
            f"{err} (completed samples are kept in {journal.path}; fix the cause and run again "
            "to resume)"
        )
    finally:
        journal.close()
    inference_s = time.perf_counter() - t0
    return _finish(
        bench=bench,
        docs=docs,
        journal=journal,
        stats=stats,
        meta=dict(
            task=task,
            model_id=model_id,
            endpoint_url=ep.url,
            endpoint_type=ep.endpoint_type,
            started_at=started,
        ),
        t0=t0,
        inference_s=inference_s,
        resumed=0 if rescore else resumed,
        fraction=fraction,
        output_dir=output_dir,
        config_dump={
            "config": config.model_dump(mode="json"),
            "target": target_without_key(target),
            "adapter": adapter.model_dump(mode="json") if adapter is not None else None,
        },
        quiet=quiet,
        stopped=stopped,
    )


def _prompt_of(bench: Benchmark, doc: dict[str, Any]) -> Any:
    """The document's prompt, rebuilt (a run does not hold every prompt in memory)."""
    try:
        reqs = bench.build_requests(doc)
    except Exception as err:
        return f"(could not rebuild the prompt: {err})"
    if not reqs:
        return None
    first = reqs[0]
    if isinstance(first, GenerationRequest):
        return first.prompt if first.prompt is not None else list(first.messages or ())
    return {
        "context": first.context,
        "continuations": [getattr(r, "continuation", None) for r in reqs],
    }


def _finish(
    *,
    bench: Benchmark,
    docs: list[dict[str, Any]],
    journal: Journal,
    stats: RunStats,
    meta: dict[str, Any],
    t0: float,
    inference_s: float,
    resumed: int,
    fraction: float,
    output_dir: Path,
    config_dump: dict[str, Any],
    quiet: bool,
    stopped: TooManyErrorsError | None = None,
) -> EvaluationResult:
    """Score what the journal holds, write every output file, print the summary.

    After an early stop (``stopped``) samples.jsonl and report.html are written for the
    samples that finished, the error causes are printed, and ``stopped`` is raised.
    """
    entries = journal.entries
    to_score = [
        d
        for d in docs
        if (e := entries.get(str(d["doc_id"]))) is not None
        and not e.get("error")
        and str(d["doc_id"]) not in stats.scores
    ]
    rescored: dict[str, SampleScore | str] = {}

    def score_one(doc: dict[str, Any]) -> tuple[str, SampleScore | str]:
        doc_id = str(doc["doc_id"])
        try:
            return doc_id, bench.score(doc, outputs_from_json(entries[doc_id]["outputs"]))
        except Exception as err:
            return doc_id, f"scoring failed: {type(err).__name__}: {err}"

    with ThreadPoolExecutor(max_workers=max(1, min(8, bench.params.parallelism))) as pool:
        rescored.update(pool.map(score_one, to_score))

    scores: list[SampleScore] = []
    samples: list[dict[str, Any]] = []
    usage: dict[str, int] = {}
    errors = missing = cache_hits = 0
    last_error = None
    error_texts: list[str] = []
    for doc in docs:
        doc_id = str(doc["doc_id"])
        entry = entries.get(doc_id)
        if entry is None:
            missing += 1
            continue
        error = entry.get("error")
        score: SampleScore | str | None = None
        if not error:
            score = stats.scores.get(doc_id) or rescored.get(doc_id)
            if isinstance(score, str):
                error, score = score, None
        if error:
            errors += 1
            last_error = error
            error_texts.append(str(error))
        else:
            assert isinstance(score, SampleScore)
            scores.append(score)
        cache_hits += int(bool(entry.get("cache_hit")))
        for key, value in (entry.get("usage") or {}).items():
            usage[key] = usage.get(key, 0) + int(value)
        raw = entry.get("raw")
        samples.append(
            {
                "doc_id": doc_id,
                "prompt": _prompt_of(bench, doc),
                "response": raw[0] if isinstance(raw, list) and len(raw) == 1 else raw,
                "extracted": score.extracted if isinstance(score, SampleScore) else None,
                "target": score.target if isinstance(score, SampleScore) else None,
                "score": score.metrics if isinstance(score, SampleScore) else None,
                "group": score.group if isinstance(score, SampleScore) else None,
                "cache_hit": bool(entry.get("cache_hit")),
                "latency_s": entry.get("latency_s"),
                "error": error,
            }
        )
    write_samples(samples, output_dir)
    tasks, groups = bench.aggregate(scores, num_errors=errors)
    duration = time.perf_counter() - t0
    result = EvaluationResult(
        tasks=tasks,
        groups=groups,
        metadata=RunMetadata(
            **meta,
            finished_at=_now(),
            duration_s=round(duration, 3),
            num_samples=len(docs),
            num_errors=errors,
            num_cache_hits=cache_hits,
            token_usage=usage,
            versions=versions(),
            config=config_dump,
            extra={
                "counts": {
                    "samples": len(docs),
                    "scored": len(scores),
                    "errors": errors,
                    "missing": missing,
                    "resumed_from_journal": resumed,
                    "cache_hits": cache_hits,
                },
                "timings": {"inference_s": round(inference_s, 3), "total_s": round(duration, 3)},
                "max_error_fraction": fraction,
                "dataset": bench.describe_dataset(),
                **(
                    {"repeats": {"n": bench.repeats, "seeds": bench.seeds()}}
                    if isinstance(bench, Repeated)
                    else {}
                ),
            },
        ),
    )
    write_report(result, samples, output_dir)
    for line in summary_lines(error_texts, total=len(docs)):
        print(line, file=sys.stderr)
    if stopped is not None:
        raise stopped
    if errors > allowed_errors(len(docs), fraction):
        raise TooManyErrorsError(
            f"{errors} of {len(docs)} samples failed (max_error_fraction={fraction}); last error: "
            f"{last_error}; samples.jsonl and report.html show them, run again to retry them"
        )
    write_results(result, output_dir)
    if missing:
        print(
            f"warning: {missing} of {len(docs)} samples have no journal entry and are left out; "
            "run without rescore to complete them",
            file=sys.stderr,
        )
    if not quiet:
        print_summary(result, output_dir=str(output_dir))
    return result
