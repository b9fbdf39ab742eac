"""Typed configs shared by every tier."""

from .adapter import AdapterConfig, InterceptorSpec
from .api_dataclasses import (
    ApiEndpoint,
    ConfigParams,
    EvaluationConfig,
    EvaluationTarget,
)
from .launcher import LauncherConfig
from .results import EvaluationResult

__all__ = [
    "AdapterConfig",
    "ApiEndpoint",
    "ConfigParams",
    "EvaluationConfig",
    "EvaluationResult",
    "EvaluationTarget",
    "InterceptorSpec",
    "LauncherConfig",
]
