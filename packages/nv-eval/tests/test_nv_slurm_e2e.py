"""Pattern 4 through a real single-node Slurm: run, status, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nv_eval_testutil import eval_config, write_config

from nv_eval.cli import main

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_pattern4_on_real_slurm(
    slurm_cluster: dict[str, str],
    nv_home: Path,
    stub: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path,
        "slurm_evaluation",
        target={"api_endpoint": {"url": f"{stub.url}/v1/completions/", "model_id": "stub-model"}},  # type: ignore[attr-defined]
        config=eval_config(
            "", tasks="gsm8k,arc_easy", limit=5, output_dir=str(tmp_path / "shared_results")
        ),
        execution={
            "executor": "slurm",
            "slurm": {
                "nodes": 4,
                "gpus_per_node": 8,
                "time_limit": "04:00:00",
                "partition": "gpu",
                "job_name": "nemo_eval_study",
            },
            "parallel_jobs": 2,
            "output_dir": str(tmp_path / "evaluation_results"),
        },
    )
    # as written, the one-node test cluster refuses it with Slurm's own words
    assert (
        main(["run", "--config-name", "slurm_evaluation", "--executor", "slurm", "--detach"]) == 2
    )
    assert "sbatch: error" in capsys.readouterr().err
    code = main(
        [
            "run",
            "--config-name",
            "slurm_evaluation",
            "--executor",
            "slurm",
            "-o",
            "execution.slurm.nodes=1",
            "-o",
            "execution.slurm.gpus_per_node=0",
            "-o",
            "execution.slurm.partition=debug",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    inv = out.split("invocation", 1)[1].split()[0]
    assert main(["status", inv, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [j["state"] for j in status["jobs"]] == ["success", "success"]
    assert all("slurm_job_id" in j["handle"] for j in status["jobs"])
    assert all(
        j["output_dir"].startswith(str(tmp_path / "shared_results" / inv)) for j in status["jobs"]
    )
    assert main(["export", inv, "--dest", "local"]) == 0
    assert (tmp_path / "evaluation_results" / inv / "export" / "metrics.json").is_file()
