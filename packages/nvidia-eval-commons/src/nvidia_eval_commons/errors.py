"""Errors raised by nvidia_eval_commons.

Tree::

    NvidiaEvalCommonsError          base of everything this package raises
    └── ConfigError (ValueError)    a config that does not validate; one line naming the field
        └── MissingEnvVarError      a referenced environment variable is unset (env.py)
"""

from __future__ import annotations


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
