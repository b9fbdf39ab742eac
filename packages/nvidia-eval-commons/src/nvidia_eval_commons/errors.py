"""Errors raised by nvidia_eval_commons.

Tree::

    NvidiaEvalCommonsError          base of everything this package raises
    └── ConfigError (ValueError)    a config that does not validate; one line naming the field
        └── MissingEnvVarError      a referenced environment variable is unset (env.py)
"""

from __future__ import annotations

import importlib
from types import ModuleType


class NvidiaEvalCommonsError(Exception):
    """Base class of this package's errors."""


class ConfigError(NvidiaEvalCommonsError, ValueError):
    """A configuration that does not validate.

    ``str(err)`` is one line that names the field, where it was and how to fix it;
    ``err.problems`` holds one line per problem found.
    """

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems if problems is not None else [message]


class MissingExtraError(NvidiaEvalCommonsError, ImportError):
    """An optional dependency is missing; ``str(err)`` names the install command.

    ``distribution[extra]`` is what to install (``nemo-eval[hf]``); ``module`` the package that
    is missing; ``purpose`` what needs it (``"The hf engine"``); ``install`` overrides the
    command when a plain ``pip install 'dist[extra]'`` is not enough.
    """

    def __init__(
        self,
        *,
        distribution: str,
        extra: str,
        module: str,
        purpose: str,
        install: str | None = None,
    ) -> None:
        self.command = install or f"pip install '{distribution}[{extra}]'"
        super().__init__(
            f"{purpose} needs the Python package '{module}', which is not installed: "
            f"run `{self.command}`"
        )
        self.distribution = distribution
        self.extra = extra
        self.module = module


def require_extra(module: str, *, distribution: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            distribution=distribution, extra=extra, module=module, purpose=purpose
        ) from err
