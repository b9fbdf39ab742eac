"""Errors raised by nemo_evaluator.

Tree::

    NemoEvaluatorError                  base of everything this package raises
    ├── ConfigError (ValueError)        misuse: a bad config or argument, found at start-up;
    │   │                               also a nvidia_eval_commons.ConfigError, so one
    │   │                               ``except ConfigError`` catches both packages' errors
    │   ├── UnknownBenchmarkError       a benchmark name that nothing registers
    │   ├── UnknownInterceptorError     an interceptor name that nothing registers
    │   │                               (both also nvidia_eval_commons.registry.UnknownNameError)
    │   ├── stats.RunReadError          a directory that is not a finished run
    │   └── stats.ComparisonError       two runs that cannot be compared item by item (other
    │                                   items, dataset files or benchmark version)
    └── EvaluatorRuntimeError           something failed while running (I/O, a remote service)
        ├── UpstreamError               the model endpoint answered with an error or not at all;
        │                               carries ``status`` and ``body``
        └── SandboxError                the code sandbox cannot run model-written code here (no
                                        bubblewrap, namespaces refused); never raised for a
                                        program that merely fails its tests

Config errors are raised before any work starts and say which field to fix; run-time errors
say what failed and never hide completed work.
"""

from __future__ import annotations

from nvidia_eval_commons.errors import ConfigError as _CommonsConfigError
from nvidia_eval_commons.registry import UnknownNameError


class NemoEvaluatorError(Exception):
    """Base class of this package's errors."""


class ConfigError(NemoEvaluatorError, _CommonsConfigError):
    """A configuration or argument that cannot work; raised at start-up, one line."""


class UnknownBenchmarkError(ConfigError, UnknownNameError):
    """A benchmark name that is neither built in nor registered through an entry point."""


class UnknownInterceptorError(ConfigError, UnknownNameError):
    """An interceptor name that is neither built in nor registered through an entry point."""


class EvaluatorRuntimeError(NemoEvaluatorError, RuntimeError):
    """A failure while running (as opposed to a misuse found at start-up)."""


class UpstreamError(EvaluatorRuntimeError):
    """The upstream model endpoint failed.

    ``status`` is the HTTP status the endpoint answered with (502 when it could not be reached,
    504 when it timed out) and ``body`` the text it sent, if any.
    """

    def __init__(self, message: str, *, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class SandboxError(EvaluatorRuntimeError):
    """The code sandbox could not run a check (not: the checked program failed)."""


__all__ = [
    "ConfigError",
    "EvaluatorRuntimeError",
    "NemoEvaluatorError",
    "SandboxError",
    "UnknownBenchmarkError",
    "UnknownInterceptorError",
    "UpstreamError",
]
