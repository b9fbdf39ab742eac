"""Interceptors by name: the built-in ones and third-party ones registered by entry point.

A third-party package makes an interceptor available as ``my_name`` with, in its
``pyproject.toml``::

    [project.entry-points."nemo_evaluator.interceptors"]
    my_name = "my_package.module:MyInterceptor"

where ``MyInterceptor`` subclasses :class:`nemo_evaluator.adapters.interceptor.Interceptor` and sets
``config_model`` to a pydantic model of its options.
"""

from __future__ import annotations

from nvidia_eval_commons.registry import Registry

from ..errors import UnknownInterceptorError
from .interceptor import Interceptor

ENTRY_POINT_GROUP = "nemo_evaluator.interceptors"

_PKG = "nemo_evaluator.adapters.interceptors"

INTERCEPTORS: Registry[type[Interceptor]] = Registry(
    "interceptor",
    group=ENTRY_POINT_GROUP,
    builtins={
        "system_message": f"{_PKG}.system_message:SystemMessageInterceptor",
        "payload_modifier": f"{_PKG}.payload_modifier:PayloadModifierInterceptor",
        "request_logging": f"{_PKG}.request_logging:RequestLoggingInterceptor",
        "response_logging": f"{_PKG}.response_logging:ResponseLoggingInterceptor",
        "caching": f"{_PKG}.caching:CachingInterceptor",
        "reasoning": f"{_PKG}.reasoning:ReasoningInterceptor",
        "progress_tracking": f"{_PKG}.progress_tracking:ProgressTrackingInterceptor",
        "response_stats": f"{_PKG}.response_stats:ResponseStatsInterceptor",
    },
    base=Interceptor,
    error=UnknownInterceptorError,
)


def register(cls: type[Interceptor]) -> type[Interceptor]:
    """Class decorator: make an interceptor available by its ``name`` in this process."""
    return INTERCEPTORS.register(cls)


def available() -> list[str]:
    """Every interceptor name that can be used in an ``interceptors:`` list."""
    return INTERCEPTORS.names()


def get_interceptor(name: str) -> type[Interceptor]:
    """The interceptor class registered as ``name``; an unknown name lists the valid ones."""
    return INTERCEPTORS.get(name)


__all__ = ["ENTRY_POINT_GROUP", "INTERCEPTORS", "available", "get_interceptor", "register"]
