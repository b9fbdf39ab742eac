"""The run's own options and the configuration stored with its results (no literal API key)."""

from __future__ import annotations

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
