"""The ``embedded`` backend: the engine in this process, a batching queue in front of it.

Requests that arrive while a batch is running wait in the queue; the worker then takes as many
as fill ``max_batch_size`` rows, so concurrency turns into batch size. A row is one sequence of
the engine's first forward pass: an engine that computes a shared prefix once (the ``hf``
engine's scoring requests: the choices of one question) counts a group of requests as one row
(``Engine.batch_rows``), so a batch of 8 holds 8 questions, not 2 questions of 4 choices. After the first request
of a batch the worker keeps collecting for a short gather window (``max_wait_s`` in total, not
per request): concurrent clients whose requests reach the server a few milliseconds apart then
share one batch instead of the first running alone. The window costs a single client that much
latency per request, small next to a decode step of a CPU model (tens of milliseconds).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from ..engines.base import Engine, EngineSpec, GenerateRequest, GenerateResult
from ..engines.factory import build_engine
from .base import BackendOptions

log = logging.getLogger(__name__)

# requests of one batch at most, per row of ``max_batch_size`` (many prompts can share a prefix)
MAX_REQUESTS_PER_ROW = 8
_Item = tuple[GenerateRequest, "Future[GenerateResult]"]


class BatchingQueue:
    """Collects single requests into batches for one engine; one worker thread."""

    def __init__(self, engine: Engine, *, max_batch_size: int, max_wait_s: float = 0.02) -> None:
        self.engine = engine
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._rows: Callable[[list[GenerateRequest]], int] = getattr(engine, "batch_rows", len)
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._held: _Item | None = None
        """A request taken from the queue that did not fit its batch: it starts the next."""
        self._thread = threading.Thread(target=self._work, name="nemo-eval-batcher", daemon=True)
        self._stopped = False
        self._thread.start()

    def submit(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        if self._stopped:
            raise RuntimeError("the server is stopping")
        futures: list[Future[GenerateResult]] = []
        for req in requests:
            fut: Future[GenerateResult] = Future()
            self._queue.put((req, fut))
            futures.append(fut)
        return [f.result() for f in futures]

    def _take_batch(self) -> list[_Item] | None:
        first, self._held = self._held or self._queue.get(), None
        if first is None:
            return None
        batch, reqs = [first], [first[0]]
        rows = self._rows(reqs)
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch_size * MAX_REQUESTS_PER_ROW:
            # a full batch still takes what is already queued if it shares a row (the other
            # choices of its last question); it waits for nothing more
            try:
                if rows >= self.max_batch_size:
                    item = self._queue.get_nowait()
                else:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            grown = self._rows([*reqs, item[0]])
            if grown > self.max_batch_size:
                self._held = item
                break
            batch.append(item)
            reqs.append(item[0])
            rows = grown
        return batch

    def _work(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            reqs = [req for req, _ in batch]
            if log.isEnabledFor(logging.DEBUG):
                log.debug("batch of %d requests in %d rows", len(reqs), self._rows(reqs))
            try:
                results = self.engine.generate(reqs)
            except Exception as exc:
                log.exception("batch of %d failed", len(batch))
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            for (_, fut), res in zip(batch, results, strict=False):
                fut.set_result(res)

    def stop(self) -> None:
        self._stopped = True
        self._queue.put(None)
        self._thread.join(timeout=30)
        if self._thread.is_alive():
            log.warning("the batching thread did not stop within 30 s")


class EmbeddedBackend:
    """In-process engine + batching queue (the default for CPU and tests)."""

    name = "embedded"

    def __init__(self, engine: Engine, *, max_batch_size: int) -> None:
        self.text = engine
        self._queue = BatchingQueue(engine, max_batch_size=max_batch_size)

    @classmethod
    def create(cls, spec: EngineSpec, *, options: BackendOptions) -> EmbeddedBackend:
        engine = build_engine(spec, model_name=options.model_name)
        return cls(engine, max_batch_size=options.max_batch_size)

    def submit(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        return self._queue.submit(requests)

    def stop(self) -> None:
        self._queue.stop()
