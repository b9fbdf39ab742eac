"""Errors raised by nv_eval.

Every message is one line that names the cause and the fix; the CLI prints it as is.

Tree::

    NvEvalError                     base of everything this package raises
    ├── LauncherConfigError         a config that does not compose or validate; also a
    │   │                           nvidia_eval_commons ConfigError (and so a ValueError)
    │   ├── UnknownExecutorError    an executor name that does not exist; lists the valid ones
    │   ├── UnknownExporterError    an exporter name that does not exist; lists the valid ones
    │   └── UnknownTaskError        a benchmark name that does not exist; lists the valid ones
    │                               (the three also nvidia_eval_commons.registry.UnknownNameError)
    ├── UnknownIdError              no invocation or job with that id; suggests the nearest
    ├── SchedulerError              sbatch/squeue/scancel or Lepton refused; carries its message
    ├── DeploymentError             the tier-1 server did not start or become healthy
    └── ExporterError               one exporter failed (results stay where they were)

    nvidia_eval_commons.MissingExtraError (ImportError)   an optional dependency is not
                                    installed; the one class every package raises, raised here
                                    by ``require_extra``
"""

from __future__ import annotations

from types import ModuleType

from nvidia_eval_commons.errors import ConfigError, MissingExtraError
from nvidia_eval_commons.errors import require_extra as _require_extra
from nvidia_eval_commons.registry import UnknownNameError


class NvEvalError(Exception):
    """Base class of this package's errors."""


class LauncherConfigError(NvEvalError, ConfigError):
    """The launcher config does not compose or validate."""


class UnknownExecutorError(LauncherConfigError, UnknownNameError):
    """An executor name that is not registered."""


class UnknownExporterError(LauncherConfigError, UnknownNameError):
    """An exporter name that is not registered."""


class UnknownTaskError(LauncherConfigError, UnknownNameError):
    """A benchmark name that is not registered."""


class UnknownIdError(NvEvalError, LookupError):
    """No invocation or job matches an id."""


class SchedulerError(NvEvalError):
    """A scheduler (Slurm, Lepton) refused a request; ``str(err)`` holds its own message."""

    def __init__(self, message: str, *, scheduler_message: str = "") -> None:
        super().__init__(message)
        self.scheduler_message = scheduler_message


class DeploymentError(NvEvalError):
    """The model server did not start or did not become healthy in time."""


class ExporterError(NvEvalError):
    """An exporter failed; results on disk are untouched."""


def require_extra(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise MissingExtraError naming ``pip install 'nv-eval[extra]'``."""
    return _require_extra(
        module, distribution="nv-eval", extra=extra, purpose=f"the {extra} integration"
    )


__all__ = [
    "DeploymentError",
    "ExporterError",
    "LauncherConfigError",
    "MissingExtraError",
    "NvEvalError",
    "SchedulerError",
    "UnknownExecutorError",
    "UnknownExporterError",
    "UnknownIdError",
    "UnknownTaskError",
    "require_extra",
]
