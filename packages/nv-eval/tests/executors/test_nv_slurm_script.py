"""The sbatch script and the ssh wrapping of the Slurm executor: pure functions, no Slurm
needed, so these run in every test session (no slow or slurm mark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nv_eval.executors.base import JobSpec
from nv_eval.executors.slurm import Shell, SlurmExecutor
from nvidia_eval_commons.api.launcher import SlurmConfig, SshConfig


@pytest.mark.parametrize("slots,total,singleton", [(1, 2, True), (2, 2, False)])
def test_script_from_slurm_section(tmp_path: Path, slots: int, total: int, singleton: bool) -> None:
    cfg = SlurmConfig(
        nodes=2,
        gpus_per_node=8,
        time_limit="04:00:00",
        partition="gpu",
        job_name="nemo_eval_study",
        account="proj",
        sbatch_flags=["--exclusive"],
        setup_commands=["module load cuda"],
        env={"HF_HOME": "/shared/hf"},
    )
    s = JobSpec(
        job_id="abc.0",
        name="gsm8k",
        job_dir=tmp_path / "abc" / "gsm8k",
        command=["python", "-m", "nv_eval.job", "{job_dir}/job.json"],
        slots=slots,
        total_jobs=total,
    )
    text = SlurmExecutor(cfg, invocation_id="abc").script(s)
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --time=04:00:00",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=proj",
        "#SBATCH --exclusive",
        "module load cuda",
        "export HF_HOME=/shared/hf",
    ):
        assert line in text
    assert f"{tmp_path}/abc/gsm8k/job.json" in text
    assert ("#SBATCH --dependency=singleton" in text) is singleton


def test_ssh_wraps_commands_and_rebases_paths(tmp_path: Path) -> None:
    ssh = SshConfig(host="login.example", user="me", port=2222, remote_dir="/lustre/me/runs")
    ex = SlurmExecutor(SlurmConfig(ssh=ssh))
    argv = Shell(ssh).argv(["squeue", "-h", "-j", "12"])
    assert argv[:6] == ["ssh", "-o", "BatchMode=yes", "-p", "2222", "me@login.example"]
    assert argv[-1] == "squeue -h -j 12"
    assert ex.remote_dir(tmp_path / "inv1" / "gsm8k") == "/lustre/me/runs/inv1/gsm8k"
