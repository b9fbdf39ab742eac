"""Shared fixtures of the sandbox tests: leftover-process lookup and capability probes."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pytest

from nemo_evaluator.sandbox import cgroup, run_program


def processes_mentioning(token: str) -> list[int]:
    """Live PIDs whose command line contains ``token``.

    Every sandboxed process (and anything it forks) carries its working directory in argv, so
    this finds whatever a check left behind.
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
def _isolation() -> tuple[str, ...]:
    return run_program("pass").isolation


@pytest.fixture
def leftovers() -> Callable[[str], list[int]]:
    return processes_mentioning


@pytest.fixture
def namespaces() -> None:
    if "netns" not in _isolation():
        pytest.skip(
            "network/mount/PID namespaces unavailable here: run as root, or allow unprivileged "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1; docker --privileged)"
        )


@pytest.fixture
def pids_cgroup(namespaces: None) -> None:
    if cgroup.pids_cgroup_base() is None:
        pytest.skip(
            "a real fork bomb needs a writable pids cgroup (root with cgroup v1 pids, or a v2 "
            "tree with pids in cgroup.subtree_control); without it only the guard stops fork()"
        )
