"""The uid a check runs as when the evaluator is root, and how to end all of its processes.

Run as root, bubblewrap keeps the host's user namespace and the bootstrap gives up root for a
uid of the check's own, drawn from a range far above any account's (useradd, systemd's
dynamic users and the usual subuid ranges stay below it). The kernel counts ``RLIMIT_NPROC``
per uid, so the cap then holds for that check's processes only, with or without a pids
cgroup, and every process of that uid belongs to the check: ``kill_all`` ends them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PRIVATE_UID_BASE = 0x5F000000
PRIVATE_UID_SPAN = 1 << 24

_lock = threading.Lock()
_in_use: set[int] = set()


@contextlib.contextmanager
def private_uid() -> Iterator[int]:
    """A uid (also the gid) that no account and no other check of this process uses now.

    Another evaluator on the same host drawing the same uid from the 2**24 range would only
    share the process cap for that moment, never more rights.
    """
    with _lock:
        uid = PRIVATE_UID_BASE + secrets.randbelow(PRIVATE_UID_SPAN)
        while uid in _in_use:
            uid = PRIVATE_UID_BASE + secrets.randbelow(PRIVATE_UID_SPAN)
        _in_use.add(uid)
    try:
        yield uid
    finally:
        with _lock:
            _in_use.discard(uid)


def processes_of(uid: int) -> list[int]:
    """Live processes whose real uid is ``uid`` (read from /proc/<pid>/status)."""
    wanted = f"Uid:\t{uid}\t"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if wanted in status and "State:\tZ" not in status:
            found.append(int(entry.name))
    return found


def kill_all(uid: int, *, deadline_s: float = 5.0) -> bool:
    """SIGKILL every process of ``uid`` until none is left; True when none is."""
    end = time.monotonic() + deadline_s
    while pids := processes_of(uid):
        if time.monotonic() >= end:
            return False
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)
    return True
