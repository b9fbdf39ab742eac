"""The config objects users construct: endpoint, target, evaluation config, params.

These are the names the public API fixes::

    from nvidia_eval_commons.api.api_dataclasses import (
        ApiEndpoint, EvaluationConfig, EvaluationTarget)
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from ..env import env_reference, is_env_name, read_env
from ..openai_url import EndpointType, infer_endpoint_type
from ._strict import StrictModel
from .adapter import AdapterConfig, InterceptorSpec
from .results import (
    EvaluationResult,
    GroupResult,
    MetricResult,
    RunMetadata,
    Score,
    ScoreStats,
    TaskResult,
)


class ApiEndpoint(StrictModel):
    """An OpenAI-compatible endpoint to evaluate."""

    url: str = Field(min_length=1)
    """Full URL of the endpoint, e.g. ``http://127.0.0.1:8080/v1/completions/``."""
    model_id: str | None = None
    """Model name sent in each request (``model``); ``None`` asks the server for its first model."""
    type: EndpointType | None = None
    """``chat`` or ``completions``; inferred from the URL when left empty."""
    api_key: SecretStr | None = None
    """The API key itself, whatever its shape. Written as ``${oc.env:VAR}`` or ``${env:VAR}``
    it is a reference instead (it becomes ``api_key_env: VAR``). Never logged or stored."""
    api_key_env: str | None = None
    """The name of the environment variable that holds the API key, read when the run starts
    (an unset variable is an error). Only the name is stored."""
    adapter_config: AdapterConfig | None = None
    """Interceptors between the client and this endpoint."""

    @field_validator("url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must start with http:// or https:// and a host")
        return value

    @model_validator(mode="before")
    @classmethod
    def _reference_in_api_key(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        key = data.get("api_key")
        raw = key.get_secret_value() if isinstance(key, SecretStr) else key
        name = env_reference(raw)
        if name is None:
            return data
        if data.get("api_key_env") not in (None, name):
            raise ValueError("give api_key or api_key_env, not both")
        return {**{k: v for k, v in data.items() if k != "api_key"}, "api_key_env": name}

    @field_validator("api_key_env")
    @classmethod
    def _valid_env_name(cls, value: str | None) -> str | None:
        if value is not None and not is_env_name(value):
            raise ValueError(
                f"{value!r} is not an environment variable name (letters, digits and '_')"
            )
        return value

    @model_validator(mode="after")
    def _fill_type(self) -> ApiEndpoint:
        if self.api_key is not None and self.api_key_env is not None:
            raise ValueError("give api_key (the key) or api_key_env (its variable), not both")
        if self.type is None:
            object.__setattr__(self, "type", infer_endpoint_type(self.url))
        return self

    @property
    def endpoint_type(self) -> EndpointType:
        return self.type if self.type is not None else infer_endpoint_type(self.url)

    def resolved_api_key(self) -> str | None:
        """The key itself: the literal ``api_key``, or the value of ``api_key_env``.

        Raises MissingEnvVarError (a ConfigError, one line) when the variable is unset.
        """
        if self.api_key_env is not None:
            return read_env(self.api_key_env, field="target.api_endpoint.api_key_env")
        if self.api_key is None:
            return None
        return self.api_key.get_secret_value()


class EvaluationTarget(StrictModel):
    """What is evaluated: an endpoint (a plain dict is accepted)."""

    api_endpoint: ApiEndpoint


class ConfigParams(StrictModel):
    """Run parameters of an evaluation."""

    limit_samples: int | float | None = None
    """Evaluate only the first N samples (an integer) or a fraction of them (0 < f < 1)."""
    parallelism: int = Field(default=1, ge=1, le=4096)
    """Requests in flight at once."""
    max_new_tokens: int | None = Field(default=None, ge=1)
    """Generation budget; the benchmark's own default when empty."""
    temperature: float | None = Field(default=None, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_retries: int = Field(default=5, ge=0)
    """Retries of one request on connection errors, timeouts, 429 and 5xx."""
    request_timeout: float = Field(default=300.0, gt=0.0)
    """Seconds one attempt of a request may take in all: connect, send and the whole answer
    (an upstream that trickles bytes is cut off at this deadline)."""
    sample_timeout: float | None = Field(default=None, gt=0.0)
    """Seconds one sample may take across all its attempts and the waits between them;
    empty: no bound beyond ``request_timeout`` per attempt and ``max_retries``."""
    num_fewshot: int | None = Field(default=None, ge=0)
    """Few-shot examples; the benchmark's own default when empty."""
    seed: int | None = None
    """Seed of sampling and few-shot selection; the benchmark's own default when empty."""
    repeats: int = Field(default=1, ge=1, le=1000)
    """Samples per document (distinct seeds): with N > 1 a generative benchmark also reports
    pass@k for k <= N, maj@k and the mean over repeats, with clustered intervals."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Benchmark-specific options."""

    @field_validator("limit_samples", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a count or a fraction, not a boolean")
        return value

    @field_validator("limit_samples")
    @classmethod
    def _count_or_fraction(cls, value: int | float | None) -> int | float | None:
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer() and value >= 1:
            return int(value)
        if isinstance(value, float):
            if not 0.0 < value < 1.0:
                raise ValueError("a fraction must be between 0 and 1, a count at least 1")
            return value
        if value < 1:
            raise ValueError("a count must be at least 1")
        return value


class EvaluationConfig(StrictModel):
    """Which benchmark(s) to run, where to write, and with which parameters."""

    type: str = Field(min_length=1)
    """Benchmark name, e.g. ``gsm8k``; the launcher also takes a comma-separated list."""
    output_dir: str = Field(min_length=1)
    """Directory for results, samples, logs and the report."""
    params: ConfigParams = Field(default_factory=ConfigParams)

    @field_validator("type", mode="before")
    @classmethod
    def _join_list(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return ",".join(str(v).strip() for v in value)
        return value

    @property
    def task_types(self) -> list[str]:
        """The benchmark names in ``type``, split on commas."""
        return [t.strip() for t in self.type.split(",") if t.strip()]


__all__ = [
    "AdapterConfig",
    "ApiEndpoint",
    "ConfigParams",
    "EndpointType",
    "EvaluationConfig",
    "EvaluationResult",
    "EvaluationTarget",
    "GroupResult",
    "InterceptorSpec",
    "MetricResult",
    "RunMetadata",
    "Score",
    "ScoreStats",
    "TaskResult",
    "infer_endpoint_type",
]
