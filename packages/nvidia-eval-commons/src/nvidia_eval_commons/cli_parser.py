"""The argument parser every command line of the stack uses.

Two habits shared by the four CLIs (``nemo-evaluator``, ``nemo-eval``, ``nv-eval``,
``nvidia-eval-schema``):

- ``--version`` prints the program, its distribution's version and the Python version;
- long options are never matched by prefix (``--typ`` is an error, not ``--type``):
  ``allow_abbrev=False`` on the parser and on every subcommand's parser, because
  ``add_subparsers`` builds those with the parser's own class.
"""

from __future__ import annotations

import argparse
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any


def distribution_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``unknown`` when it is not installed."""
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
