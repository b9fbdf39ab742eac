"""Errors of the sandbox.

SandboxError (RuntimeError)  the sandbox itself could not run a check: bad limits, no Python
                             interpreter, or isolation that was required is unavailable.

A program that fails, times out or runs out of memory is not an error: it is a
``SandboxResult`` with that status.
"""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox could not run a check (not: the checked program failed)."""
