"""Errors of ``nemo_eval``: every one carries a one-line message naming the cause and the fix.

Tree::

    NemoEvalError                    base of everything raised on purpose here
    +-- DeployConfigError (ValueError)   bad arguments to deploy() or the CLI; also a
    |   |                                nvidia_eval_commons ConfigError
    |   +-- CheckpointError              a checkpoint path that is missing or of the wrong format
    (MissingExtraError, ImportError)     an optional dependency (extra) is not installed: the
                                         commons class, shared by every package (missing_extra)
    +-- HardwareError                    the engine needs hardware this machine lacks (a GPU)
    +-- PortInUseError (OSError)         the server port is taken
    +-- ServerStartError                 a server or backend did not come up in time
    +-- ModelFetchError                  the default model could not be fetched or verified
    +-- RequestError                     a bad HTTP request (status 400/404/...), OpenAI error shape

    nvidia_eval_commons.MissingExtraError (ImportError)   an optional dependency (extra) is
                                         not installed; the one class every package raises,
                                         built here by ``missing_extra``
"""

from __future__ import annotations

from nvidia_eval_commons.errors import ConfigError, MissingExtraError


class NemoEvalError(Exception):
    """Base class of the errors raised by nemo_eval."""


class DeployConfigError(NemoEvalError, ConfigError):
    """Invalid arguments to ``deploy()`` or ``nemo-eval deploy``."""


class CheckpointError(DeployConfigError):
    """The checkpoint does not exist or is not a format any engine reads."""


def missing_extra(
    extra: str, *, module: str, purpose: str, install: str | None = None
) -> MissingExtraError:
    """The error for a missing ``nemo-eval[extra]`` dependency (commons' MissingExtraError)."""
    return MissingExtraError(
        distribution="nemo-eval", extra=extra, module=module, purpose=purpose, install=install
    )


class HardwareError(NemoEvalError):
    """The engine needs hardware (a CUDA GPU) that this machine does not have."""


class PortInUseError(NemoEvalError, OSError):
    """The requested server port is already taken."""


class ServerStartError(NemoEvalError):
    """A server or serving backend failed to start or to become healthy in time."""


class ModelFetchError(NemoEvalError):
    """The default model could not be downloaded, verified or converted."""


class RequestError(NemoEvalError):
    """A client error answered in the OpenAI JSON error shape."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.error_type = error_type

    def to_json(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.status,
            }
        }
