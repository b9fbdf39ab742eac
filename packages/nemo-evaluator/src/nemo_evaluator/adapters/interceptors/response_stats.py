"""Response stats: latency, token usage, finish reasons and status codes.

Summarised to ``response_stats.json`` under the output directory when the pipeline closes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from pydantic import Field

from nvidia_eval_commons.api._strict import StrictModel

from ..interceptor import AdapterResponse, ChainEnv, Interceptor, RequestContext
from ..log_files import write_json_atomic

STATS_FILE = "response_stats.json"
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of already sorted values, nearest-rank; ``None`` if empty."""
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


class ResponseStatsConfig(StrictModel):
    """Options of the ``response_stats`` interceptor."""

    max_latency_samples: int = Field(default=100_000, ge=1)
    """Latencies kept for percentiles (the first N; counts and sums cover all)."""


class ResponseStatsInterceptor(Interceptor):
    """Aggregates every answer that passes it."""

    name = "response_stats"
    config_model = ResponseStatsConfig
    changes_results = False

    def __init__(self, config: ResponseStatsConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        self.config: ResponseStatsConfig = config
        self._lock = threading.Lock()
        self.count = 0
        self.cache_hits = 0
        self.status_codes: Counter[int] = Counter()
        self.finish_reasons: Counter[str] = Counter()
        self.usage: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.latency_sum = 0.0

    def on_response(self, response: AdapterResponse, ctx: RequestContext) -> AdapterResponse:
        latency = time.perf_counter() - ctx.start
        reasons: list[str] = []
        usage: dict[str, int] = {}
        if response.stream is None:
            data = response.json_or_none()
            if isinstance(data, dict):
                for choice in data.get("choices") or ():
                    if isinstance(choice, dict) and choice.get("finish_reason"):
                        reasons.append(str(choice["finish_reason"]))
                raw_usage = data.get("usage")
                if isinstance(raw_usage, dict):
                    usage = {
                        k: int(raw_usage[k])
                        for k in _USAGE_KEYS
                        if isinstance(raw_usage.get(k), (int, float))
                    }
        with self._lock:
            self.count += 1
            self.cache_hits += response.cache_hit
            self.status_codes[response.status_code] += 1
            self.finish_reasons.update(reasons)
            self.usage.update(usage)
            self.latency_sum += latency
            if len(self.latencies) < self.config.max_latency_samples:
                self.latencies.append(latency)
        return response

    def stats(self) -> dict[str, Any]:
        with self._lock:
            lat = sorted(self.latencies)
            return {
                "responses": self.count,
                "cache_hits": self.cache_hits,
                "status_codes": {str(k): v for k, v in sorted(self.status_codes.items())},
                "finish_reasons": dict(self.finish_reasons),
                "usage": {k: self.usage.get(k, 0) for k in _USAGE_KEYS},
                "latency_s": {
                    "mean": self.latency_sum / self.count if self.count else None,
                    "p50": _percentile(lat, 0.5),
                    "p90": _percentile(lat, 0.9),
                    "p99": _percentile(lat, 0.99),
                    "max": lat[-1] if lat else None,
                },
            }

    def close(self) -> None:
        write_json_atomic(self.env.output_dir / STATS_FILE, self.stats())
