"""Interceptors by name: the built-in ones and third-party ones registered by entry point.

A third-party package makes an interceptor available as ``my_name`` with, in its
``pyproject.toml``::

    [project.entry-points."nemo_evaluator.interceptors"]
    my_name = "my_package.module:MyInterceptor"

where ``MyInterceptor`` subclasses :class:`nemo_evaluator.adapters.types.Interceptor` and sets
``config_model`` to a pydantic model of its options.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points

from ..errors import ConfigError, UnknownInterceptorError
from .types import Interceptor

ENTRY_POINT_GROUP = "nemo_evaluator.interceptors"

_BUILTINS: dict[str, str] = {
    "system_message": "nemo_evaluator.adapters.interceptors.system_message:SystemMessageInterceptor",
    "payload_modifier": "nemo_evaluator.adapters.interceptors.payload_modifier:PayloadModifierInterceptor",
    "request_logging": "nemo_evaluator.adapters.interceptors.request_logging:RequestLoggingInterceptor",
    "response_logging": "nemo_evaluator.adapters.interceptors.response_logging:ResponseLoggingInterceptor",
    "caching": "nemo_evaluator.adapters.interceptors.caching:CachingInterceptor",
    "reasoning": "nemo_evaluator.adapters.interceptors.reasoning:ReasoningInterceptor",
    "progress_tracking": "nemo_evaluator.adapters.interceptors.progress_tracking:ProgressTrackingInterceptor",
    "response_stats": "nemo_evaluator.adapters.interceptors.response_stats:ResponseStatsInterceptor",
}

_extra: dict[str, type[Interceptor]] = {}


def register(cls: type[Interceptor]) -> type[Interceptor]:
    """Class decorator: make an interceptor available by its ``name`` in this process."""
    if not cls.name:
        raise ConfigError(f"interceptor class {cls.__qualname__} has no 'name'")
    _extra[cls.name] = cls
    return cls


def _load(target: str, name: str) -> type[Interceptor]:
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Interceptor)):
        raise ConfigError(f"interceptor '{name}' ({target}) is not an Interceptor subclass")
    return cls


def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Every interceptor name that can be used in an ``interceptors:`` list."""
    return sorted(set(_BUILTINS) | set(_extra) | set(_entry_points()))


def get_interceptor(name: str) -> type[Interceptor]:
    """The interceptor class registered as ``name``; an unknown name lists the valid ones."""
    if name in _extra:
        return _extra[name]
    if name in _BUILTINS:
        return _load(_BUILTINS[name], name)
    eps = _entry_points()
    if name in eps:
        ep = eps[name]
        try:
            cls = ep.load()  # type: ignore[attr-defined]
        except Exception as exc:
            raise ConfigError(
                f"interceptor '{name}' is registered by entry point but failed to import: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Interceptor)):
            raise ConfigError(f"entry point interceptor '{name}' is not an Interceptor subclass")
        return cls
    close = difflib.get_close_matches(name, available(), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise UnknownInterceptorError(
        f"unknown interceptor '{name}'; {hint}valid: {', '.join(available())} "
        f"(third-party ones register under the '{ENTRY_POINT_GROUP}' entry point group)"
    )


__all__ = ["ENTRY_POINT_GROUP", "available", "get_interceptor", "register"]
