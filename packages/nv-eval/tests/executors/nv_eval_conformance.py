"""The executor conformance suite: every executor must pass these.

A subclass provides the ``executor`` fixture; each test submits real jobs through it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from nv_eval_testutil import wait_for

from nv_eval.executors.base import Executor, JobSpec

TERMINAL = ("success", "failed", "killed")


def spec(
    tmp_path: Path, name: str, code: str, *, slot: int = 0, slots: int = 1, total: int = 1
) -> JobSpec:
    return JobSpec(
        job_id=f"conf.{name}",
        name=name,
        job_dir=tmp_path / "inv" / name,
        command=[sys.executable, "-c", code],
        slot=slot,
        slots=slots,
        total_jobs=total,
    )


def final(executor: Executor, s: JobSpec, handle: dict, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    return wait_for(
        lambda: (st := executor.status(s.job_dir, handle)).state in TERMINAL and st,
        timeout=timeout,
    )


class ExecutorConformance:
    timeout = 90.0

    @pytest.fixture
    def executor(self) -> Executor:
        raise NotImplementedError

    def fresh(self, executor: Executor) -> Executor:
        """A new instance, as a new launcher process (after a crash) would build it."""
        return executor

    def test_success_and_logs(self, executor: Executor, tmp_path: Path) -> None:
        s = spec(tmp_path, "ok", "print('hello from the job')")
        handle = executor.submit(s)
        st = final(self.fresh(executor), s, handle, self.timeout)
        assert st.state == "success", st
        assert st.exit_code == 0
        assert st.started_at is not None
        assert "hello from the job" in wait_for(
            lambda: executor.logs(s.job_dir, handle), timeout=10
        )

    def test_failure_reports_exit_code(self, executor: Executor, tmp_path: Path) -> None:
        s = spec(tmp_path, "bad", "import sys; print('boom', file=sys.stderr); sys.exit(3)")
        handle = executor.submit(s)
        st = final(self.fresh(executor), s, handle, self.timeout)
        assert st.state == "failed", st
        assert st.exit_code == 3
        assert "boom" in executor.logs(s.job_dir, handle)

    def test_kill_running_job(self, executor: Executor, tmp_path: Path) -> None:
        s = spec(tmp_path, "sleepy", "import time; print('started', flush=True); time.sleep(120)")
        handle = executor.submit(s)
        wait_for(
            lambda: executor.status(s.job_dir, handle).state == "running", timeout=self.timeout
        )
        executor.kill(s.job_dir, handle)
        st = final(self.fresh(executor), s, handle, 60)
        assert st.state == "killed", st

    def test_parallel_jobs_bound(self, executor: Executor, tmp_path: Path) -> None:
        """Two jobs with one slot never run at the same time."""
        code = (
            "import os, time, pathlib; p = pathlib.Path('..') / 'running'; "
            "fd = os.open(p, os.O_CREAT | os.O_EXCL); time.sleep(1.5); os.close(fd); os.unlink(p)"
        )
        specs = [spec(tmp_path, f"seq{i}", code, slot=0, slots=1, total=2) for i in range(2)]
        handles = [executor.submit(s) for s in specs]
        states = [final(executor, s, h, self.timeout) for s, h in zip(specs, handles, strict=True)]
        assert [st.state for st in states] == ["success", "success"], states
