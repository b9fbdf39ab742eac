"""The settings that change a sample's result: stored with a run, compared on resume.

A resume whose settings differ from the stored ones is refused, so a journal never mixes
samples produced under two configurations. What counts: the task, the model, the generation
parameters (less the ``params.extra`` keys in :data:`RUNTIME_EXTRA_KEYS`, which steer the run
only) and the interceptors whose class says ``changes_results`` (logging, stats, progress and
the cache only observe or replay, and may be switched on or off between a run and its resume).
"""

from __future__ import annotations

from typing import Any

from nvidia_eval_commons.api.api_dataclasses import AdapterConfig, ConfigParams, EvaluationTarget

from ..adapters.registry import get_interceptor

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
                if spec.enabled and get_interceptor(spec.name).changes_results
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
