"""What a run is set up with before its first request: the adapter pipeline and transport,
the documents in the run's order, the time stamps and the resume command."""

from __future__ import annotations

import shlex
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
from nvidia_eval_commons.openai_url import endpoint_path

from .endpoint import HttpTransport
from .errors import EvaluationConfigError


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def resume_hint(output_dir: Path, target: EvaluationTarget) -> str:
    cmd = f"nemo-evaluator run --resume {shlex.quote(str(output_dir))}"
    ep = target.api_endpoint
    if ep.api_key_env is not None:
        cmd += f" --api-key-env {ep.api_key_env}"
    elif ep.api_key is not None:
        cmd += " --api-key-env VAR_HOLDING_YOUR_KEY"
    return cmd


def build_pipeline(
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


def ordered_docs(docs: list[dict[str, Any]], seed: Any) -> list[dict[str, Any]]:
    """The documents in the run's order: as loaded, or shuffled by ``params.extra.order_seed``
    (so a growing ``limit_samples`` takes the same random items first)."""
    if seed is None:
        return docs
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise EvaluationConfigError(f"params.extra.order_seed={seed!r} must be an integer")
    return [docs[i] for i in np.random.default_rng(seed).permutation(len(docs))]


__all__ = ["build_pipeline", "now_iso", "ordered_docs", "resume_hint"]
