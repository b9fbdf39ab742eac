"""The request counters of one adapter pipeline, kept once for all who report them.

The pipeline records every final answer here (after the whole chain, chain failures
included); ``adapter_stats.json`` and the ``response_stats`` interceptor both read these
counts instead of counting the same answers again. Latencies are kept one by one (for
percentiles) only when a reader asks for them with :meth:`RequestCounters.keep_latencies`.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class CountsSnapshot:
    """The counters at one moment, read under one lock."""

    requests: int
    cache_hits: int
    upstream_attempts: int
    errors: int
    status_codes: dict[str, int]
    """Status code (as text, sorted) -> answers."""
    latency_sum_s: float
    latencies_s: tuple[float, ...]
    """The first latencies, sorted; empty unless :meth:`RequestCounters.keep_latencies`."""

    @property
    def mean_latency_s(self) -> float | None:
        return self.latency_sum_s / self.requests if self.requests else None


class RequestCounters:
    """Thread-safe counts of the answers a pipeline gave (one :meth:`record` per answer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._hits = 0
        self._attempts = 0
        self._errors = 0
        self._status: Counter[int] = Counter()
        self._latency_sum = 0.0
        self._latencies: list[float] = []
        self._keep = 0

    def keep_latencies(self, limit: int) -> None:
        """Keep the first ``limit`` latencies one by one (the largest limit asked wins)."""
        with self._lock:
            self._keep = max(self._keep, limit)

    def record(self, *, status_code: int, cache_hit: bool, attempts: int, latency_s: float) -> None:
        with self._lock:
            self._requests += 1
            self._hits += cache_hit
            self._attempts += attempts
            self._errors += status_code >= 400
            self._status[status_code] += 1
            self._latency_sum += latency_s
            if len(self._latencies) < self._keep:
                self._latencies.append(latency_s)

    def snapshot(self) -> CountsSnapshot:
        with self._lock:
            return CountsSnapshot(
                requests=self._requests,
                cache_hits=self._hits,
                upstream_attempts=self._attempts,
                errors=self._errors,
                status_codes={str(k): v for k, v in sorted(self._status.items())},
                latency_sum_s=self._latency_sum,
                latencies_s=tuple(sorted(self._latencies)),
            )


__all__ = ["CountsSnapshot", "RequestCounters"]
