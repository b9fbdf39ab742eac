"""The argument parser every command line of the stack uses.

Three habits shared by the four CLIs (``nemo-evaluator``, ``nemo-eval``, ``nv-eval``,
``nvidia-eval-schema``):

- ``--version`` prints the program, its distribution's version and the Python version;
- long options are never matched by prefix (``--typ`` is an error, not ``--type``):
  ``allow_abbrev=False`` on the parser and on every subcommand's parser, because
  ``add_subparsers`` builds those with the parser's own class;
- output piped into a reader that stops early (``nemo-evaluator ls --json | head``) ends the
  command quietly with status 141, as a program killed by SIGPIPE does, instead of a traceback
  (:func:`quiet_on_closed_stdout`).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
from collections.abc import Callable
from typing import Any, TypeVar

_Main = TypeVar("_Main", bound=Callable[..., int])

#: The exit status a shell reports for a process ended by SIGPIPE (128 + 13).
CLOSED_STDOUT_STATUS = 141


def distribution_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``unknown`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version  # only --version needs it

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


class StrictArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that never abbreviates long options (also in its subcommands)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def build_cli_parser(*, prog: str, description: str, distribution: str) -> StrictArgumentParser:
    """A parser for ``prog`` with ``--version`` (naming ``distribution``'s version)."""
    parser = StrictArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--version",
        action="version",
        version=(
            f"{prog} {distribution_version(distribution)} "
            f"({distribution}, Python {platform.python_version()})"
        ),
    )
    return parser


__all__ = ["StrictArgumentParser", "build_cli_parser", "distribution_version"]


def quiet_on_closed_stdout(main: _Main) -> _Main:
    """Wrap a CLI ``main`` so a reader closing the pipe early ends it with status 141, silently.

    Standard output is pointed at ``/dev/null`` first, so the interpreter's final flush of the
    buffered rest cannot raise a second ``BrokenPipeError`` at exit.
    """

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            status = main(*args, **kwargs)
            sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return CLOSED_STDOUT_STATUS
        return status

    return wrapper  # type: ignore[return-value]
