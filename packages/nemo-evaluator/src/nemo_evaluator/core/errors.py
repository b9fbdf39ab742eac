"""Errors of the evaluate core.

Tree::

    nemo_evaluator.errors.EvaluatorRuntimeError
    └── EvaluationError                 base of everything the evaluate core raises
        ├── EvaluationConfigError       also a nemo_evaluator.errors.ConfigError (ValueError): a
        │                               config the run cannot use (wrong endpoint type, an
        │                               output dir holding a run with other settings)
        ├── OutputDirError              the output dir cannot be written (a file, read-only,
        │                               full); names the path, the cause and the fix
        ├── PreflightError              the endpoint failed the check before the first sample
        │                               (unreachable, key refused, wrong path or type, unknown
        │                               model); the message names the setting to change
        ├── ResponseFormatError         a body that is not what the endpoint type promises
        ├── SampleFailedError           one sample failed after its retries (recorded in the
        │                               journal and samples.jsonl, not raised out of evaluate)
        └── TooManyErrorsError          more samples failed than max_error_fraction allows

Every message is one line naming the cause and what to do about it.
"""

from __future__ import annotations

from ..errors import ConfigError, EvaluatorRuntimeError


class EvaluationError(EvaluatorRuntimeError):
    """Base class of the evaluate core's errors."""


class EvaluationConfigError(EvaluationError, ConfigError):
    """The configuration cannot be used for this run."""


class OutputDirError(EvaluationError):
    """The output directory cannot be created or written; completed samples stay journaled."""


class PreflightError(EvaluationError):
    """The endpoint cannot serve this run; found before the first sample was sent."""


class ResponseFormatError(EvaluationError):
    """The endpoint answered with a body the client cannot interpret."""


class SampleFailedError(EvaluationError):
    """A request of one sample still failed after its retries."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class TooManyErrorsError(EvaluationError):
    """The run stopped because too many samples failed."""
