"""Response stats: latency, token usage, finish reasons and status codes.

Summarised to ``response_stats.json`` under the output directory when the pipeline closes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from nvidia_eval_commons.api._strict import StrictModel

from ..interceptor import AdapterResponse, ChainEnv, Interceptor, RequestContext
from ..log_files import write_json_atomic

STATS_FILE = "response_stats.json"
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _percentile(sorted_values: Sequence[float], q: float) -> float | None:
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
    """Finish reasons and token usage of every answer that passes it; the answer, cache-hit,
    status and latency counts are the pipeline's own (:class:`RequestCounters`), read at the
    end, so they cover every final answer wherever this interceptor sits in the chain."""

    name = "response_stats"
    config_model = ResponseStatsConfig
    changes_results = False

    def __init__(self, config: ResponseStatsConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        self.config: ResponseStatsConfig = config
        env.counters.keep_latencies(config.max_latency_samples)
        self._lock = threading.Lock()
        self.finish_reasons: Counter[str] = Counter()
        self.usage: Counter[str] = Counter()

    def on_response(self, response: AdapterResponse, ctx: RequestContext) -> AdapterResponse:
        if response.stream is not None:
            return response
        data = response.json_or_none()
        if not isinstance(data, dict):
            return response
        reasons = [
            str(choice["finish_reason"])
            for choice in data.get("choices") or ()
            if isinstance(choice, dict) and choice.get("finish_reason")
        ]
        raw_usage = data.get("usage")
        usage: dict[str, int] = {}
        if isinstance(raw_usage, dict):
            usage = {
                k: int(raw_usage[k])
                for k in _USAGE_KEYS
                if isinstance(raw_usage.get(k), (int, float))
            }
        with self._lock:
            self.finish_reasons.update(reasons)
            self.usage.update(usage)
        return response

    def stats(self) -> dict[str, Any]:
        counts = self.env.counters.snapshot()
        lat = counts.latencies_s
        with self._lock:
            reasons, usage = dict(self.finish_reasons), dict(self.usage)
        return {
            "responses": counts.requests,
            "cache_hits": counts.cache_hits,
            "status_codes": counts.status_codes,
            "finish_reasons": reasons,
            "usage": {k: usage.get(k, 0) for k in _USAGE_KEYS},
            "latency_s": {
                "mean": counts.mean_latency_s,
                "p50": _percentile(lat, 0.5),
                "p90": _percentile(lat, 0.9),
                "p99": _percentile(lat, 0.99),
                "max": lat[-1] if lat else None,
            },
        }

    def close(self) -> None:
        write_json_atomic(self.env.output_dir / STATS_FILE, self.stats())
