"""Shared fixtures of the sandbox tests: leftover-process lookup, capability probes and real
socket listeners on the host that record what reaches them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from sandbox_support import Listener

from nemo_evaluator.sandbox import SandboxError, cgroup, ensure_available

PRINT_CHECK_NAME = "import sys\nprint(sys.argv[-1], flush=True)\n"


def processes_mentioning(token: str) -> list[int]:
    """Live PIDs whose command line contains ``token``.

    Every sandboxed process (and anything it forks) carries its check's name as the last
    argument (``PRINT_CHECK_NAME`` prints it), so this finds whatever a check left behind.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@lru_cache(maxsize=1)
def _bubblewrap_missing() -> str | None:
    try:
        ensure_available()
    except SandboxError as exc:
        return str(exc)
    return None


@pytest.fixture
def leftovers() -> Callable[[str], list[int]]:
    return processes_mentioning


@pytest.fixture
def bubblewrap() -> None:
    """Skip where the sandbox cannot run: the reason says what installs or allows it."""
    missing = _bubblewrap_missing()
    if missing is not None:
        pytest.skip(f"{missing} (apt-get install bubblewrap; CI installs it)")


@pytest.fixture
def pids_cgroup(bubblewrap: None) -> None:
    if cgroup.pids_cgroup_base() is None:
        pytest.skip(
            "a real fork bomb needs a writable pids cgroup (root with cgroup v1 pids, or a v2 "
            "tree with pids in cgroup.subtree_control); without it only the guard stops fork()"
        )


@pytest.fixture
def make_listener() -> Iterator[Callable[[int, Any], Listener]]:
    """Starts :class:`Listener` s (``make_listener(family, address)``), closed after the test."""
    started: list[Listener] = []

    def make(family: int, address: Any) -> Listener:
        started.append(Listener(family, address))
        return started[-1]

    yield make
    for listener in started:
        listener.close()
