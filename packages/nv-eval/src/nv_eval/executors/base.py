"""The executor interface: submit, status, kill, logs.

A job is an argv run in a job directory. Each executor wraps the argv so that the job leaves
markers in ``<job_dir>/state/``: ``started`` (a Unix time) once it runs and ``exit_code``
when it ends; ``kill`` leaves ``killed``. Executors combine these with the scheduler's own
view (process liveness, squeue/sacct, the Lepton API), so ``status`` is right after the
launcher itself crashed.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from nvidia_eval_commons.api.launcher import LauncherConfig

STATE_DIR = "state"
LOG_NAME = "job.log"
JOB_DIR_TOKEN = "{job_dir}"
"""Replaced in a job's argv by the job directory as the executor's machine sees it."""


@dataclass(frozen=True)
class JobSpec:
    """One job to run: ``command`` inside ``job_dir``; ``name`` is its task, ``order`` its index
    in the invocation. The launcher plans these, executors submit them, and the store keeps
    what became of each (:class:`nv_eval.store.JobRecord`)."""

    job_id: str
    name: str
    job_dir: Path
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    slot: int = 0
    """Concurrency slot (``idx % parallel_jobs``): jobs sharing a slot run one after another."""
    slots: int = 1
    """``execution.parallel_jobs``."""
    order: int = 0
    """Submission index: jobs start in this order."""
    total_jobs: int = 1
    job_file: str = ""
    """The job file's text (``job.json``, see :class:`nv_eval.job.JobFile`), for executors
    that ship it themselves."""
    output_dir: str = ""
    """The evaluation's output_dir as written in the job file (relative to ``job_dir`` when
    relative)."""
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)
    """Variables the job's process gets in its environment only: never in a file, a script
    or ``describe`` (a literal API key)."""


@dataclass(frozen=True)
class JobStatus:
    state: str
    """pending, running, success, failed or killed."""
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    message: str = ""


def read_marker(job_dir: Path, name: str) -> str | None:
    path = Path(job_dir) / STATE_DIR / name
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def write_marker(job_dir: Path, name: str, value: str) -> None:
    """Write a marker atomically (a rename), so readers never see half of it."""
    state = Path(job_dir) / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    tmp = state / f".{name}.tmp"
    tmp.write_text(value + "\n", encoding="utf-8")
    tmp.replace(state / name)


def marker_time(job_dir: Path, name: str) -> float | None:
    raw = read_marker(job_dir, name)
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def status_from_markers(job_dir: Path) -> JobStatus | None:
    """The final status the markers record, or None while the job has not ended."""
    job_dir = Path(job_dir)
    started = marker_time(job_dir, "started")
    killed = read_marker(job_dir, "killed") is not None
    raw = read_marker(job_dir, "exit_code")
    if raw is None:
        return None
    try:
        code = int(raw)
    except ValueError:
        code = 1
    path = job_dir / STATE_DIR / "exit_code"
    finished = path.stat().st_mtime if path.exists() else time.time()
    message = read_marker(job_dir, "error") or ""
    if killed:
        return JobStatus("killed", code, started, finished, "killed by nv-eval kill")
    if code == 0:
        return JobStatus("success", 0, started, finished, "")
    return JobStatus("failed", code, started, finished, message or f"exit code {code}")


def tail(path: Path, *, max_bytes: int = 200_000) -> str:
    """The end of a log file (all of it when small)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


class Executor(ABC):
    """Runs jobs somewhere. Subclasses are thin: one file each."""

    name: ClassVar[str]

    @classmethod
    def from_config(
        cls, config: LauncherConfig, *, invocation_id: str, secret_envs: tuple[str, ...] = ()
    ) -> Executor:
        """The executor for a validated launcher file. ``secret_envs`` are the names of the
        environment variables that hold secrets the jobs need (passed on, never written)."""
        return cls()

    @abstractmethod
    def submit(self, spec: JobSpec) -> dict[str, Any]:
        """Start ``spec``; return the handle (JSON-able) that status/kill/logs take."""

    @abstractmethod
    def status(self, job_dir: Path, handle: dict[str, Any]) -> JobStatus:
        """The job's state now."""

    @abstractmethod
    def kill(self, job_dir: Path, handle: dict[str, Any]) -> None:
        """Stop the job; its state becomes ``killed``."""

    def logs(self, job_dir: Path, handle: dict[str, Any]) -> str:
        """The job's combined stdout and stderr (the end of it when large)."""
        return tail(Path(job_dir) / LOG_NAME)

    def describe(self, spec: JobSpec) -> str:
        """What ``submit`` would do, for ``--dry-run``."""
        import shlex

        return shlex.join(spec.command).replace(JOB_DIR_TOKEN, str(spec.job_dir))


__all__ = [
    "JOB_DIR_TOKEN",
    "LOG_NAME",
    "STATE_DIR",
    "Executor",
    "JobSpec",
    "JobStatus",
    "marker_time",
    "read_marker",
    "status_from_markers",
    "tail",
    "write_marker",
]
