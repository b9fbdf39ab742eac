"""Per-check cgroups: a process-count cap that also holds for root, and a CPU share.

RLIMIT_NPROC counts per user and does not apply to root, so the number of tasks is capped with
the pids controller instead. A cpu cgroup per check makes each check one scheduling entity
(a fork bomb competes with its neighbours as one task, not hundreds) and caps it at
``cpus`` cores. Either cgroup v1 (``/sys/fs/cgroup/pids`` and ``/sys/fs/cgroup/cpu``) or a
cgroup v2 directory whose ``cgroup.subtree_control`` already enables ``pids`` (and ``cpu``) is
used. The host's controller configuration is never changed; when nothing is writable, checks
run without cgroups (see docs/sandbox.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_V1_PIDS = Path("/sys/fs/cgroup/pids")
_V1_CPU = Path("/sys/fs/cgroup/cpu")
_V2_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
_PREFIX = "nemo-evaluator-sandbox-"
_PERIOD_US = 100_000


@dataclass(frozen=True)
class _Bases:
    pids: Path | None = None
    cpu: Path | None = None  # may equal ``pids`` on cgroup v2
    v2: bool = False


@dataclass(frozen=True)
class CheckCgroups:
    """The cgroups one check's processes join (the child writes its pid into each)."""

    paths: tuple[Path, ...]
    features: tuple[str, ...]  # "cgroup-pids", "cgroup-cpu"


_lock = threading.Lock()
_bases: _Bases | None = None


def _usable(parent: Path, control: str) -> bool:
    probe = parent / f"{_PREFIX}probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        return (probe / control).exists() and (probe / "cgroup.procs").exists()
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def _find_bases() -> _Bases:
    for root in _V2_ROOTS:
        try:
            enabled = (root / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if "pids" in enabled and _usable(root, "pids.max"):
            cpu = root if "cpu" in enabled and _usable(root, "cpu.max") else None
            return _Bases(pids=root, cpu=cpu, v2=True)
    pids = _V1_PIDS if _usable(_V1_PIDS, "pids.max") else None
    cpu = _V1_CPU if _usable(_V1_CPU, "cpu.cfs_quota_us") else None
    return _Bases(pids=pids, cpu=cpu)


def _remove_stale(base: Path) -> None:
    """Remove empty per-check cgroups left by processes that were killed (named by their pid)."""
    for path in base.glob(f"{_PREFIX}*"):
        owner = path.name.removeprefix(_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or Path(f"/proc/{owner}").exists() or members(path):
            continue
        with contextlib.suppress(OSError):
            path.rmdir()


def _get_bases() -> _Bases:
    global _bases
    with _lock:
        if _bases is None:
            _bases = _find_bases()
            for base in {_bases.pids, _bases.cpu} - {None}:
                _remove_stale(base)  # type: ignore[arg-type]
        return _bases


def pids_cgroup_base() -> Path | None:
    """Where per-check pids cgroups go, or None (probed once per process)."""
    return _get_bases().pids


def create(*, max_tasks: int, cpus: float | None) -> CheckCgroups:
    """Make this check's cgroups; empty when none are available (never raises)."""
    bases = _get_bases()
    name = f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
    paths: list[Path] = []
    features: list[str] = []
    quota = "max" if cpus is None else str(max(1000, int(cpus * _PERIOD_US)))
    try:
        if bases.pids is not None:
            path = bases.pids / name
            path.mkdir()
            paths.append(path)
            (path / "pids.max").write_text(str(max_tasks))
            features.append("cgroup-pids")
            if bases.v2 and bases.cpu is not None:
                (path / "cpu.max").write_text(f"{quota} {_PERIOD_US}")
                features.append("cgroup-cpu")
        if not bases.v2 and bases.cpu is not None:
            path = bases.cpu / name
            path.mkdir()
            paths.append(path)
            (path / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text("-1" if quota == "max" else quota)
            features.append("cgroup-cpu")
    except OSError:
        destroy(CheckCgroups(tuple(paths), ()))
        return CheckCgroups((), ())
    return CheckCgroups(tuple(paths), tuple(features))


def members(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def destroy(groups: CheckCgroups, *, deadline_s: float = 5.0) -> bool:
    """Kill whatever is left in the check's cgroups and remove them; True when all are gone."""
    end = time.monotonic() + deadline_s
    gone = True
    for path in groups.paths:
        gone = _destroy_one(path, end) and gone
    return gone


def _destroy_one(path: Path, end: float) -> bool:
    kill_file = path / "cgroup.kill"  # cgroup v2 kills all members at once
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
