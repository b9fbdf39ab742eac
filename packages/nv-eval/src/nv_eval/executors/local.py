"""LocalExecutor: each job is a detached process on this machine.

The process runs in its own session (Ctrl-C of ``nv-eval run`` does not reach it) under
``nv_eval.executors.supervise``, which bounds concurrency with slot locks and writes the
markers. State comes from the markers plus process liveness (pid and start time, so a reused
pid is not mistaken for the job), which stays right after the launcher crashed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from nvidia_eval_commons.api.launcher import LauncherConfig

from .base import LOG_NAME, Executor, JobSpec, JobStatus, marker_time, status_from_markers
from .base import write_marker as _write_marker

_KILL_GRACE_S = 10.0


def _alive(handle: dict[str, Any]) -> bool:
    pid = handle.get("pid")
    if not pid:
        return False
    try:
        proc = psutil.Process(int(pid))
        if abs(proc.create_time() - float(handle.get("create_time", 0))) > 1.0:
            return False  # the pid was reused by another process
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


class LocalExecutor(Executor):
    """Detached subprocesses; ``execution.local.env`` adds environment variables."""

    name = "local"

    def __init__(self, *, env: dict[str, str] | None = None) -> None:
        self.env = dict(env or {})

    @classmethod
    def from_config(
        cls, config: LauncherConfig, *, invocation_id: str, secret_envs: tuple[str, ...] = ()
    ) -> LocalExecutor:
        return cls(env=config.execution.local.env)

    def submit(self, spec: JobSpec) -> dict[str, Any]:
        spec.job_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "nv_eval.executors.supervise",
            "--job-dir",
            str(spec.job_dir),
            "--slots-dir",
            str(spec.job_dir.parent / ".slots"),
            "--slots",
            str(spec.slots),
            "--order",
            str(spec.order),
            "--",
            *spec.command,
        ]
        env = {**os.environ, **self.env, **spec.env, **spec.secret_env}
        with open(spec.job_dir / LOG_NAME, "ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=spec.job_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        create_time = psutil.Process(proc.pid).create_time()
        return {"pid": proc.pid, "create_time": create_time}

    def status(self, job_dir: Path, handle: dict[str, Any]) -> JobStatus:
        final = status_from_markers(job_dir)
        if final is not None:
            return final
        started = marker_time(job_dir, "started")
        if _alive(handle):
            return JobStatus("running" if started else "pending", started_at=started)
        final = status_from_markers(job_dir)  # it may have ended between the two reads
        if final is not None:
            return final
        if marker_time(job_dir, "killed") is not None:
            return JobStatus("killed", None, started, time.time(), "killed by nv-eval kill")
        return JobStatus(
            "failed",
            None,
            started,
            time.time(),
            "the job process ended without an exit marker (killed from outside or a reboot)",
        )

    def kill(self, job_dir: Path, handle: dict[str, Any]) -> None:
        _write_marker(job_dir, "killed", f"{time.time():.3f}")
        if not _alive(handle):
            return
        pgid = int(handle["pid"])
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + _KILL_GRACE_S
        while time.monotonic() < deadline and _alive(handle):
            time.sleep(0.1)
        if _alive(handle):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)


__all__ = ["LocalExecutor"]
