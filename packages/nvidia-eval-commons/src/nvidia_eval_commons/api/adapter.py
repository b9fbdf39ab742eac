"""AdapterConfig: how the interceptor chain between client and model is built.

Two equivalent ways to describe a chain:

* the flat fields the seeds use (``use_caching=True``, ``custom_system_prompt=...``), or
* an explicit ordered ``interceptors:`` list of ``{name, config}`` entries.

Using both at once is an error. The interceptors themselves live in ``nemo_evaluator``,
which validates each entry's ``config`` against the interceptor's own model at start-up.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ._strict import StrictModel


class InterceptorSpec(StrictModel):
    """One link of an explicit interceptor chain."""

    name: str = Field(min_length=1)
    """Registry name of the interceptor, e.g. ``caching`` or a third-party entry point."""
    enabled: bool = True
    """Set to false to keep the entry in the file but leave it out of the chain."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Options of that interceptor (validated by the interceptor's own config model)."""


# Flat fields that switch interceptors on; setting any of them together with
# ``interceptors`` is ambiguous.
FLAT_CHAIN_FIELDS: tuple[str, ...] = (
    "use_reasoning",
    "start_reasoning_token",
    "end_reasoning_token",
    "custom_system_prompt",
    "use_caching",
    "caching_dir",
    "use_request_logging",
    "use_response_logging",
    "max_logged_requests",
    "max_logged_responses",
    "log_failed_requests",
    "use_progress_tracking",
    "progress_tracking_url",
    "progress_tracking_interval",
)


class AdapterConfig(StrictModel):
    """Options of the adapter (interceptor proxy) between the evaluation client and the model."""

    api_url: str | None = None
    """URL of the upstream endpoint to proxy (same as ``target.api_endpoint.url``);
    taken from the target when left empty."""
    local_port: int | None = Field(default=None, ge=0, le=65535)
    """Port of the local adapter server; ``None`` picks a free port (server mode only)."""

    use_reasoning: bool = False
    """Strip reasoning (``start_reasoning_token`` ... ``end_reasoning_token``) from answers."""
    start_reasoning_token: str | None = "<think>"
    """Token that opens reasoning output."""
    end_reasoning_token: str = "</think>"
    """Token that signifies the end of reasoning output."""

    custom_system_prompt: str | None = None
    """A system prompt that replaces the original one (chat endpoints only)."""

    use_caching: bool = False
    """Cache successful responses on disk and replay them for identical requests."""
    caching_dir: str | None = None
    """Directory of the response cache; defaults to ``<output_dir>/cache``."""

    use_request_logging: bool = True
    """Log requests as JSON lines under the output directory."""
    use_response_logging: bool = True
    """Log responses as JSON lines under the output directory."""
    max_logged_requests: int | None = Field(default=5, ge=0)
    """Maximum number of requests to log; 0 disables, ``None`` logs all."""
    max_logged_responses: int | None = Field(default=5, ge=0)
    """Maximum number of responses to log; 0 disables, ``None`` logs all."""
    log_failed_requests: bool = False
    """Log every failed request with its response, whatever the limits above."""

    use_progress_tracking: bool = False
    """Count finished samples, write a progress file and post it to ``progress_tracking_url``."""
    progress_tracking_url: str | None = None
    """Where progress is posted (JSON); unreachable URLs never break a run."""
    progress_tracking_interval: int = Field(default=1, ge=1)
    """Post progress every this many finished samples."""

    interceptors: list[InterceptorSpec] | None = None
    """An explicit ordered chain; replaces the flat fields above (do not use both)."""

    @model_validator(mode="after")
    def _one_way_to_build_the_chain(self) -> AdapterConfig:
        if self.interceptors is not None:
            mixed = sorted(set(FLAT_CHAIN_FIELDS) & self.model_fields_set)
            if mixed:
                raise ValueError(
                    "use either the flat fields or 'interceptors', not both "
                    f"(flat fields set: {', '.join(mixed)}); move their settings into "
                    "the interceptors list"
                )
        return self
