"""Streams documents through the client on a thread pool and journals each as it finishes.

The pool holds ``parallelism`` workers; at most ``2 * parallelism`` documents are in flight so
memory stays flat and Ctrl-C takes effect at once. Each worker builds the document's
requests, sends them and scores the outputs; the calling thread journals the result, updates
the progress display and enforces the error budget.

Answers served from the cache need CPU, not waiting: while documents keep coming back as
cache hits the window shrinks to a few documents (fewer threads contending for the
interpreter lock), and the first document that had to go upstream opens it fully again.
Finished documents are handed to the calling thread through a queue, so each costs O(1)
there whatever the window size.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from ..benchmarks.base import (
    Benchmark,
    GenerationOutput,
    LoglikelihoodOutput,
    Output,
    SampleScore,
)
from .client import ModelClient
from .errors import EvaluationConfigError, SampleFailedError, TooManyErrorsError
from .journal import Journal

# Stop early when this many samples finished first and every one of them failed: the
# endpoint is down or rejects every request, so waiting for the error budget is pointless.
_ALL_FAILED_PROBE = 10
# After this many cache hits in a row the in-flight window shrinks to _HIT_WINDOW documents.
_HIT_STREAK = 32
_HIT_WINDOW = 8


@dataclass
class RunStats:
    finished: int = 0
    errors: int = 0
    last_error: str | None = None
    scores: dict[str, SampleScore] = field(default_factory=dict)
    requests: dict[str, list[Any]] = field(default_factory=dict)
    """The requests built for each document this run (kept for samples.jsonl)."""


def outputs_to_json(outputs: list[Output]) -> list[dict[str, Any]]:
    return [asdict(o) for o in outputs]


def outputs_from_json(records: list[dict[str, Any]]) -> list[Output]:
    outs: list[Output] = []
    for r in records:
        if "logprob" in r:
            outs.append(
                LoglikelihoodOutput(logprob=float(r["logprob"]), is_greedy=bool(r["is_greedy"]))
            )
        else:
            outs.append(GenerationOutput(text=r["text"], finish_reason=r.get("finish_reason")))
    return outs


def allowed_errors(total: int, max_error_fraction: float) -> int:
    """How many failed samples a run of ``total`` samples may have."""
    return math.floor(total * max_error_fraction + 1e-9)


def _work(bench: Benchmark, client: ModelClient, doc: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    record: dict[str, Any] = {"doc_id": str(doc["doc_id"]), "error": None}
    score: SampleScore | None = None
    reqs: list[Any] = []
    try:
        reqs = bench.build_requests(doc)
        outcome = client.run(reqs)
    except EvaluationConfigError:
        raise
    except SampleFailedError as err:
        record["error"] = str(err)
    except Exception as err:  # a failure of this sample only; recorded, never scored as wrong
        record["error"] = f"{type(err).__name__}: {err}"
    else:
        record.update(
            outputs=outputs_to_json(outcome.outputs),
            raw=outcome.raw,
            cache_hit=outcome.cache_hit,
            attempts=outcome.attempts,
            usage=outcome.usage,
        )
        try:
            score = bench.score(doc, outcome.outputs)
        except Exception as err:
            record["error"] = f"scoring failed: {type(err).__name__}: {err}"
    record["latency_s"] = round(time.perf_counter() - start, 6)
    return {"record": record, "score": score, "requests": reqs}


def run_docs(
    *,
    bench: Benchmark,
    client: ModelClient,
    docs: list[dict[str, Any]],
    journal: Journal,
    parallelism: int,
    total: int,
    max_error_fraction: float,
    on_finished: Callable[[dict[str, Any]], None] | None = None,
) -> RunStats:
    """Run ``docs`` (those not yet journaled); ``total`` is the run's size for the error budget."""
    stats = RunStats()
    budget = allowed_errors(total, max_error_fraction)
    doc_iter: Iterator[dict[str, Any]] = iter(docs)
    pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="nemo-eval")
    inflight: set[Future[dict[str, Any]]] = set()
    finished: queue.SimpleQueue[Future[dict[str, Any]]] = queue.SimpleQueue()
    full_window = 2 * parallelism
    window = full_window
    hit_streak = 0

    def fill() -> None:
        while len(inflight) < window:
            doc = next(doc_iter, None)
            if doc is None:
                return
            fut = pool.submit(_work, bench, client, doc)
            inflight.add(fut)
            fut.add_done_callback(finished.put)

    try:
        fill()
        while inflight:
            try:
                done = [finished.get(timeout=0.5)]
            except queue.Empty:
                continue
            while True:  # everything else that is ready, in one pass
                try:
                    done.append(finished.get_nowait())
                except queue.Empty:
                    break
            for fut in done:
                inflight.discard(fut)
                result = fut.result()
                record = result["record"]
                if record.get("cache_hit"):
                    hit_streak += 1
                    if hit_streak >= _HIT_STREAK:
                        window = min(full_window, _HIT_WINDOW)
                else:
                    hit_streak, window = 0, full_window
                journal.append(record)
                stats.finished += 1
                if record["error"]:
                    stats.errors += 1
                    stats.last_error = record["error"]
                elif result["score"] is not None:
                    stats.scores[record["doc_id"]] = result["score"]
                if result["requests"]:
                    stats.requests[record["doc_id"]] = result["requests"]
                if on_finished is not None:
                    on_finished(record)
                if stats.errors > budget:
                    raise TooManyErrorsError(
                        f"{stats.errors} of {stats.finished} samples failed (allowed: {budget} of "
                        f"{total}, max_error_fraction={max_error_fraction}); last error: "
                        f"{stats.last_error}"
                    )
                if stats.finished == stats.errors == _ALL_FAILED_PROBE:
                    raise TooManyErrorsError(
                        f"the first {_ALL_FAILED_PROBE} samples all failed; last error: "
                        f"{stats.last_error}"
                    )
            fill()
    except BaseException:
        for fut in inflight:
            fut.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return stats
