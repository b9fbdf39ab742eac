"""References to environment variables: the one place that decides what one looks like.

A secret (an API key) is given in one of two explicit ways, never guessed from its shape:

- a literal value: ``api_key="sk-..."``; any text, upper-case names included, is the key itself;
- a reference: ``api_key_env="MY_KEY"`` (the variable's name), or the same written as text,
  ``"${oc.env:MY_KEY}"`` or ``"${env:MY_KEY}"``; the value is read from the environment at the
  moment it is needed, and only the name is ever stored.

A reference to a variable that is not set is a one-line ``MissingEnvVarError`` before any
request is sent; it is never sent upstream as if it were the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from .errors import ConfigError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A valid environment variable name (POSIX portable character set)."""
_REFERENCE = re.compile(r"\$\{(?:oc\.)?env:([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingEnvVarError(ConfigError):
    """A referenced environment variable is not set (or is empty)."""

    def __init__(self, name: str, *, field: str) -> None:
        super().__init__(
            f"environment variable {name} (named by {field}) is not set; "
            f"export {name}=<value> before the run, or give the value literally"
        )
        self.name = name
        self.field = field


def is_env_name(text: str) -> bool:
    """True for a valid variable name such as ``MY_API_KEY`` or ``openai_key``."""
    return ENV_NAME.fullmatch(text) is not None


def env_reference(text: object) -> str | None:
    """The variable's name in ``${oc.env:NAME}`` or ``${env:NAME}``; None for anything else."""
    if not isinstance(text, str):
        return None
    found = _REFERENCE.fullmatch(text.strip())
    return found.group(1) if found else None


def check_env_name(name: str, *, field: str) -> str:
    """``name`` if it is a valid variable name, else a ConfigError naming ``field``."""
    if not is_env_name(name):
        raise ConfigError(
            f"{field}: {name!r} is not an environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    return name


def read_env(name: str, *, field: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of ``name``; MissingEnvVarError (one line) when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise MissingEnvVarError(name, field=field)
    return value


__all__ = [
    "ENV_NAME",
    "MissingEnvVarError",
    "check_env_name",
    "env_reference",
    "is_env_name",
    "read_env",
]
