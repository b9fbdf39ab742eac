"""The Slurm executor against a real single-node Slurm (the script building, which needs no
Slurm, is tested in test_nv_slurm_script.py without marks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nv_eval_conformance import ExecutorConformance, spec

from nv_eval.errors import SchedulerError
from nv_eval.executors.base import Executor
from nv_eval.executors.slurm import SlurmExecutor
from nvidia_eval_commons.api.launcher import SlurmConfig

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


class TestSlurmConformance(ExecutorConformance):
    timeout = 90.0

    @pytest.fixture
    def executor(self, slurm_cluster: dict[str, str]) -> Executor:
        return SlurmExecutor(
            SlurmConfig(job_name="nvconf", time_limit="00:05:00"), invocation_id="conf"
        )

    def fresh(self, executor: Executor) -> Executor:
        return SlurmExecutor(
            SlurmConfig(job_name="nvconf", time_limit="00:05:00"), invocation_id="conf"
        )


def test_sbatch_refusal_shows_slurm_message(slurm_cluster: dict[str, str], tmp_path: Path) -> None:
    ex = SlurmExecutor(SlurmConfig(partition="gpu"))
    with pytest.raises(SchedulerError) as err:
        ex.submit(spec(tmp_path, "refused", "pass"))
    assert "sbatch: error" in str(err.value)
    assert "partition" in err.value.scheduler_message.lower()
