from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from nv_eval_conformance import ExecutorConformance, final, spec
from nv_eval_testutil import wait_for

from nv_eval.executors.base import Executor
from nv_eval.executors.local import LocalExecutor


class TestLocalConformance(ExecutorConformance):
    timeout = 30.0

    @pytest.fixture
    def executor(self) -> Executor:
        return LocalExecutor()

    def fresh(self, executor: Executor) -> Executor:
        return LocalExecutor()


def test_process_killed_from_outside_is_failed(tmp_path: Path) -> None:
    """No exit marker and no process (a crash, kill -9, a reboot): failed, with a reason."""
    ex = LocalExecutor()
    s = spec(tmp_path, "vanish", "import time; time.sleep(60)")
    handle = ex.submit(s)
    wait_for(lambda: ex.status(s.job_dir, handle).state == "running", timeout=20)
    os.killpg(handle["pid"], signal.SIGKILL)
    st = final(LocalExecutor(), s, handle, 20)
    assert st.state == "failed"
    assert "without an exit marker" in st.message


def test_reused_pid_is_not_the_job(tmp_path: Path) -> None:
    ex = LocalExecutor()
    s = spec(tmp_path, "reuse", "pass")
    (s.job_dir / "state").mkdir(parents=True)
    handle = {"pid": os.getpid(), "create_time": 1.0}  # a live pid, but not started then
    assert ex.status(s.job_dir, handle).state == "failed"


def test_env_reaches_the_job(tmp_path: Path) -> None:
    ex = LocalExecutor(env={"NV_EVAL_TEST_VALUE": "42"})
    s = spec(tmp_path, "env", "import os; print('value=' + os.environ['NV_EVAL_TEST_VALUE'])")
    handle = ex.submit(s)
    assert final(ex, s, handle, 20).state == "success"
    assert "value=42" in ex.logs(s.job_dir, handle)
    assert sys.executable
