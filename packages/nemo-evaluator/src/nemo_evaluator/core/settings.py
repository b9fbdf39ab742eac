"""Which settings change results (checked on resume), run options, and run metadata."""

from __future__ import annotations

import platform
import re
from importlib import metadata
from typing import Any

from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    ConfigParams,
    EvaluationConfig,
    EvaluationTarget,
)

from .errors import EvaluationConfigError

DEFAULT_MAX_ERROR_FRACTION = 0.05
"""A run fails when more than this fraction of its samples still fail after their retries."""

# params.extra keys that steer the run but never change a sample's result.
RUNTIME_EXTRA_KEYS = frozenset(
    {
        "rescore",
        "max_error_fraction",
        "quiet",
        "loglikelihood_batch_size",
        "data_dir",
        "order_seed",
        "accept_modified_dataset",
        "preflight",
    }
)
# Interceptors that only observe (logging, stats, progress) or replay (cache).
_OBSERVING_INTERCEPTORS = re.compile(r"logging|caching|cache|progress|stats")


def max_error_fraction(params: ConfigParams) -> float:
    value = params.extra.get("max_error_fraction", DEFAULT_MAX_ERROR_FRACTION)
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        raise EvaluationConfigError(
            f"params.extra.max_error_fraction must be a number from 0 to 1 (got {value!r})"
        )
    return fraction


def result_settings(
    *, task: str, target: EvaluationTarget, params: ConfigParams, adapter: AdapterConfig | None
) -> dict[str, Any]:
    """Everything that changes a sample's result; a resume with other values is refused."""
    ep = target.api_endpoint
    adapter_part: dict[str, Any] = {}
    if adapter is not None:
        if adapter.interceptors is not None:
            adapter_part["interceptors"] = [
                {"name": spec.name, "config": spec.config}
                for spec in adapter.interceptors
                if spec.enabled and not _OBSERVING_INTERCEPTORS.search(spec.name)
            ]
        else:
            adapter_part["custom_system_prompt"] = adapter.custom_system_prompt
            if adapter.use_reasoning:
                adapter_part["reasoning"] = [
                    adapter.start_reasoning_token,
                    adapter.end_reasoning_token,
                ]
    return {
        "task": task,
        "model_id": ep.model_id,
        "endpoint_type": ep.endpoint_type,
        "params": {
            "max_new_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "num_fewshot": params.num_fewshot,
            "seed": params.seed,
            "extra": {k: v for k, v in params.extra.items() if k not in RUNTIME_EXTRA_KEYS},
        },
        "adapter": adapter_part,
    }


def target_without_key(target: EvaluationTarget) -> dict[str, Any]:
    """The target as JSON without a literal API key (``api_key_env``, a name, is kept)."""
    return target.model_dump(mode="json", exclude={"api_endpoint": {"api_key"}})


def run_config(
    *, target: EvaluationTarget, eval_cfg: EvaluationConfig, adapter: AdapterConfig | None
) -> dict[str, Any]:
    return {
        "target": target_without_key(target),
        "config": eval_cfg.model_dump(mode="json"),
        "adapter": adapter.model_dump(mode="json", exclude_unset=True)
        if adapter is not None
        else None,
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("nemo-evaluator", "nvidia-eval-commons"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "unknown"
    return found
