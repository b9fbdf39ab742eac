"""Helpers shared by the adapter tests."""

from __future__ import annotations

from typing import Any

from nemo_evaluator.adapters.upstream import UpstreamConfig


def fast_retries(max_retries: int = 3, request_timeout: float = 5.0) -> UpstreamConfig:
    """Retries with millisecond backoff so fault tests stay fast."""
    return UpstreamConfig(
        max_retries=max_retries,
        request_timeout=request_timeout,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        backoff_jitter_s=0.01,
    )


def chat_payload(text: str = "hello", model: str = "stub-model", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}
