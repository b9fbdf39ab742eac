"""Per-check pids cgroups: the fork-bomb limit that also holds for root.

RLIMIT_NPROC counts per user and does not apply to root, so the process count is capped with
the pids controller instead: cgroup v1 (``/sys/fs/cgroup/pids``) or a cgroup v2 directory whose
``cgroup.subtree_control`` already enables ``pids``. The host's controller configuration is never
changed; when neither is writable, checks run without a cgroup (see docs/sandbox.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from pathlib import Path

_V1_ROOT = Path("/sys/fs/cgroup/pids")
_V2_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
_PREFIX = "nemo-evaluator-sandbox-"

_lock = threading.Lock()
_probed = False
_base: Path | None = None


def _usable(parent: Path) -> bool:
    probe = parent / f"{_PREFIX}probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        return (probe / "pids.max").exists() and (probe / "cgroup.procs").exists()
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def _find_base() -> Path | None:
    if (_V1_ROOT / "cgroup.procs").exists() and _usable(_V1_ROOT):
        return _V1_ROOT
    for root in _V2_ROOTS:
        control = root / "cgroup.subtree_control"
        try:
            enabled = control.read_text().split()
        except OSError:
            continue
        if "pids" in enabled and _usable(root):
            return root
    return None


def _remove_stale(base: Path) -> None:
    """Remove empty per-check cgroups left by processes that were killed (named by their pid)."""
    for path in base.glob(f"{_PREFIX}*"):
        owner = path.name.removeprefix(_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or Path(f"/proc/{owner}").exists() or members(path):
            continue
        with contextlib.suppress(OSError):
            path.rmdir()


def pids_cgroup_base() -> Path | None:
    """The directory new per-check cgroups go in, or None (probed once per process)."""
    global _probed, _base
    with _lock:
        if not _probed:
            _base = _find_base()
            _probed = True
            if _base is not None:
                _remove_stale(_base)
        return _base


def create(max_tasks: int) -> Path | None:
    base = pids_cgroup_base()
    if base is None:
        return None
    path = base / f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_tasks))
    except OSError:
        destroy(path)
        return None
    return path


def members(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def destroy(path: Path, *, deadline_s: float = 5.0) -> bool:
    """Kill whatever is left in the cgroup and remove it; True when it is gone."""
    end = time.monotonic() + deadline_s
    kill_file = path / "cgroup.kill"  # cgroup v2 kills all members atomically
    while time.monotonic() < end:
        if not path.exists():
            return True
        pids = members(path)
        if not pids:
            with contextlib.suppress(OSError):
                path.rmdir()
                return True
        elif kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        else:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)
    return not path.exists()
