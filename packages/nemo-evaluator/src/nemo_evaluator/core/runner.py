"""Streams documents through the client on one event loop and journals each as it finishes.

``parallelism`` worker coroutines take the next document from the list, build its requests
and await the client (the adapter chain runs on this thread, the upstream call is awaited, so
a waiting request costs no thread); a finishing coroutine scores the outputs, journals the
result, updates the progress display and enforces the error budget, all on the loop's
thread: nothing is shared between threads, and each finished document costs the same
whatever the parallelism.
Benchmarks whose scoring blocks (running programs) score in the loop's worker threads, as do
transports without ``asend`` (HTTP to the adapter server).

The loop is private to the run and lives in the calling thread, or in a helper thread when
the caller already runs an event loop (a notebook). Ctrl-C cancels the workers: what is
journaled stays, the requests in flight are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..benchmarks.base import (
    Benchmark,
    GenerationOutput,
    LoglikelihoodOutput,
    Output,
    Request,
    SampleScore,
)
from .client import ModelClient
from .dispatch_order import dispatch_order
from .errors import EvaluationConfigError, SampleFailedError, TooManyErrorsError
from .journal import Journal

# Stop early when this many samples finished first and every one of them failed: the
# endpoint is down or rejects every request, so waiting for the error budget is pointless.
_ALL_FAILED_PROBE = 10


@dataclass
class RunStats:
    finished: int = 0
    errors: int = 0
    last_error: str | None = None
    scores: dict[str, SampleScore] = field(default_factory=dict)


def outputs_to_json(outputs: list[Output]) -> list[dict[str, Any]]:
    # the fields in declaration order, as ``dataclasses.asdict`` gives them (the values are
    # plain str/float/bool/None, so its deep copy is not needed and costs more than the rest)
    return [dict(vars(o)) for o in outputs]


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


async def _work(
    bench: Benchmark,
    client: ModelClient,
    doc: dict[str, Any],
    built: list[Request] | None = None,
) -> dict[str, Any]:
    """Send ``doc``'s requests; scoring that blocks runs here (in a worker thread), other
    scoring is left to :func:`_scored`, so that it runs after the next document went out."""
    start = time.perf_counter()
    record: dict[str, Any] = {"doc_id": str(doc["doc_id"]), "error": None}
    result: dict[str, Any] = {"record": record, "score": None, "requests": None, "doc": doc}
    try:
        result["requests"] = reqs = bench.build_requests(doc) if built is None else built
        outcome = await client.arun(reqs)
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
        if bench.score_blocks:
            loop = asyncio.get_running_loop()
            try:
                result["score"] = await loop.run_in_executor(
                    None, bench.score, doc, outcome.outputs
                )
            except Exception as err:
                record["error"] = f"scoring failed: {type(err).__name__}: {err}"
        else:
            result["outputs"] = outcome.outputs
    record["latency_s"] = round(time.perf_counter() - start, 6)
    return result


def _scored(bench: Benchmark, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with its score, when :func:`_work` left the scoring to the finishing."""
    outputs = result.pop("outputs", None)
    if outputs is not None:
        try:
            result["score"] = bench.score(result["doc"], outputs)
        except Exception as err:
            result["record"]["error"] = f"scoring failed: {type(err).__name__}: {err}"
    return result


def run_docs(
    *,
    bench: Benchmark,
    client: ModelClient,
    docs: list[dict[str, Any]],
    journal: Journal,
    parallelism: int,
    total: int,
    max_error_fraction: float,
    on_finished: Callable[[dict[str, Any], list[Request] | None], None] | None = None,
    stats: RunStats | None = None,
    reorder_window: int = 0,
) -> RunStats:
    """Run ``docs`` (those not yet journaled); ``total`` is the run's size for the error budget.

    ``reorder_window``: log-likelihood documents go out longest first within windows of
    that many (:mod:`.dispatch_order`); 0 keeps the list's order.

    The counts and scores go into ``stats`` (a new one by default) as each document finishes,
    before ``on_finished`` sees its journal record and the requests sent for it (None when
    building them failed).
    """
    stats = RunStats() if stats is None else stats
    budget = allowed_errors(total, max_error_fraction)
    doc_iter: Iterator[tuple[dict[str, Any], list[Request] | None]] = (
        dispatch_order(bench, docs, reorder_window)
        if reorder_window > 1
        else ((doc, None) for doc in docs)
    )

    def finish(result: dict[str, Any]) -> None:
        record = _scored(bench, result)["record"]
        journal.append(record)
        stats.finished += 1
        if record["error"]:
            stats.errors += 1
            stats.last_error = record["error"]
        elif result["score"] is not None:
            stats.scores[record["doc_id"]] = result["score"]
        if on_finished is not None:
            on_finished(record, result["requests"])
        if stats.errors > budget:
            raise TooManyErrorsError(
                f"{stats.errors} of {stats.finished} samples failed (allowed: {budget} of "
                f"{total}, max_error_fraction={max_error_fraction}); last error: "
                f"{stats.last_error}"
            )
        if stats.finished == stats.errors == _ALL_FAILED_PROBE:
            raise TooManyErrorsError(
                f"the first {_ALL_FAILED_PROBE} samples all failed; last error: {stats.last_error}"
            )

    # Answers are finished (scored, journaled, written out) by one coroutine, one per turn of
    # the loop, so that a worker sends its next request as soon as its answer is in: when
    # many answers arrive together, the next requests go out before the bookkeeping of the
    # earlier ones instead of after it. A worker finishes answers itself when ``backlog``
    # reaches ``parallelism`` (answers arriving faster than they are finished, as from a
    # cache), so at most that many wait.
    backlog: deque[dict[str, Any]] = deque()
    waiting = asyncio.Event()
    cap = max(1, parallelism)
    live = [cap]

    async def worker() -> None:
        try:
            for doc, built in doc_iter:  # one iterator shared by all workers, on one thread
                backlog.append(await _work(bench, client, doc, built))
                if len(backlog) >= cap:
                    finish(backlog.popleft())
                waiting.set()
        finally:
            live[0] -= 1
            waiting.set()

    async def finisher() -> None:
        while live[0] or backlog:
            if not backlog:
                waiting.clear()
                await waiting.wait()
                continue
            finish(backlog.popleft())
            await asyncio.sleep(0)

    async def main() -> None:
        tasks = [asyncio.ensure_future(finisher())]
        try:
            # one worker per turn of the loop: started all at once, the first request would
            # wait until every worker had built its own and opened its connection (80 ms at
            # parallelism 256); this way it goes out at once and the others follow
            for _ in range(cap):
                tasks.append(asyncio.ensure_future(worker()))
                await asyncio.sleep(0)
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # answers already in are journaled whatever stopped the run (Ctrl-C, the error
            # budget): none is lost
            while backlog:
                with contextlib.suppress(TooManyErrorsError):
                    finish(backlog.popleft())
            aclose = getattr(client.transport, "aclose", None)
            if aclose is not None:
                await aclose()

    with _frozen_heap():
        run_loop(main(), threads=parallelism)
    return stats


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive before the run (its documents, the benchmark's data, the modules)
    are left out of the cyclic garbage collector's passes while it runs: a full pass over
    them took 90 ms in a gsm8k run, and the passes grow with the dataset. Acyclic garbage
    is freed as ever; the objects are handed back afterwards unless the process had frozen
    objects of its own before (``nemo-eval deploy`` in the same process), whose freeze stays.
    """
    ours = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if ours:
            gc.unfreeze()


def run_loop(coro: Coroutine[Any, Any, None], *, threads: int) -> None:
    """Run ``coro`` on a new event loop with ``threads`` worker threads for blocking calls.

    In the calling thread, or in a helper thread when this thread already runs a loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _run_here(coro, threads=threads)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nemo-eval-loop") as helper:
        helper.submit(_run_here, coro, threads=threads).result()


def _run_here(coro: Coroutine[Any, Any, None], *, threads: int) -> None:
    loop = asyncio.new_event_loop()
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="nemo-eval")
    loop.set_default_executor(pool)
    main = loop.create_task(coro)
    try:
        loop.run_until_complete(main)
    except BaseException:
        # Ctrl-C lands here with the workers still pending: cancel them and let them clean up
        main.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(main)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
