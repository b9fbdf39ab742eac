"""Composition, one-line config errors, and --dry-run for the seed's three files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nv_eval_testutil import write_config

from nv_eval.cli import main
from nv_eval.config import compose_config

SEED_TARGET = {
    "api_endpoint": {
        "url": "http://0.0.0.0:8080/v1/completions/",
        "model_id": "megatron_model",
        "adapter_config": {"use_caching": True, "caching_dir": "./cache"},
    }
}


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    write_config(
        tmp_path,
        "my_evaluation",
        target=SEED_TARGET,
        config={"type": "gsm8k", "output_dir": "results", "params": {"limit_samples": 100}},
        execution={"executor": "local", "output_dir": "./evaluation_results"},
    )
    write_config(
        tmp_path,
        "cloud_evaluation",
        target={
            "api_endpoint": {
                "url": "https://your-model.lepton.run/v1/completions",
                "api_key": "${oc.env:LEPTON_API_KEY}",
                "model_id": "your-model",
                "adapter_config": {"use_reasoning": True, "use_progress_tracking": True},
            }
        },
        config={
            "type": "gsm8k,hellaswag,arc_easy,mmlu,humaneval",
            "output_dir": "cloud_results",
            "params": {"limit_samples": 500},
        },
        execution={
            "executor": "lepton",
            "lepton": {
                "resource_shape": "gpu.a100-80gb",
                "replicas": 4,
                "auto_scale": True,
                "max_replicas": 10,
            },
            "parallel_jobs": 5,
            "output_dir": "./cloud_evaluation_results",
        },
        exporters=[
            {
                "type": "wandb",
                "config": {"project": "model-evaluation", "tags": ["cloud", "production"]},
            },
            {"type": "mlflow", "config": {"experiment_name": "cloud-evaluation"}},
        ],
    )
    return tmp_path


def test_comma_list_is_one_job_per_task(seed_dir: Path) -> None:
    c = compose_config(
        config_name="my_evaluation",
        config_dir=seed_dir,
        overrides=["config.type=gsm8k,hellaswag,arc_easy", "execution.parallel_jobs=3"],
    )
    assert c.tasks == ["gsm8k", "hellaswag", "arc_easy"]
    assert c.model.execution.parallel_jobs == 3


def test_executor_flag_pulls_in_the_packaged_group(seed_dir: Path) -> None:
    c = compose_config(
        config_name="my_evaluation",
        config_dir=seed_dir,
        executor="slurm",
        overrides=["execution.slurm.partition=debug"],
    )
    assert c.executor == "slurm"
    assert c.model.execution.slurm is not None
    assert c.model.execution.slurm.partition == "debug"
    assert c.model.execution.slurm.job_name == "nemo_eval"  # from configs/execution/slurm.yaml


@pytest.mark.parametrize(
    "overrides,executor,expected",
    [
        (["~config.type"], None, "Required field 'config.type' not found"),
        (["~config.output_dir"], None, "Required field 'config.output_dir' not found"),
        (["~target.api_endpoint.url"], None, "Required field 'target.api_endpoint.url' not found"),
        (
            ["config.type=gsm8k,gsm9k"],
            None,
            "config.type: unknown benchmark 'gsm9k'; did you mean 'gsm8k'? valid: 'arc_challenge'",
        ),
        ([], "kubernetes", "unknown executor 'kubernetes'; valid: 'lepton', 'local', 'slurm'"),
        (["execution.parallel_jobs=0"], None, "execution.parallel_jobs"),
    ],
)
def test_errors_are_one_line_and_name_the_field(
    seed_dir: Path,
    capsys: pytest.CaptureFixture[str],
    overrides: list[str],
    executor: str | None,
    expected: str,
) -> None:
    argv = ["run", "--config-name", "my_evaluation", "--config-dir", str(seed_dir), "--dry-run"]
    for o in overrides:
        argv += ["-o", o]
    if executor:
        argv += ["--executor", executor]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err
    assert len(err.splitlines()) == 1


def test_local_dry_run_prints_config_and_commands(
    seed_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "run",
                "--config-name",
                "my_evaluation",
                "--config-dir",
                str(seed_dir),
                "--dry-run",
                "-o",
                "config.type=gsm8k,arc_easy",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "# resolved config" in out and "megatron_model" in out
    assert out.count("nv_eval.job") == 2


def test_lepton_dry_run_specs_validate_with_the_sdk(
    seed_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("leptonai", reason="pip install 'nv-eval[lepton]'")
    from leptonai.api.v2.job_validation import validate_job_create
    from leptonai.api.v2.types.job import LeptonJob

    monkeypatch.delenv("LEPTON_API_KEY", raising=False)  # the key is not needed to dry-run
    assert (
        main(
            ["run", "--config-name", "cloud_evaluation", "--config-dir", str(seed_dir), "--dry-run"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "LEPTON_API_KEY" in out
    blocks = out.split("Lepton job:\n")[1:]
    assert len(blocks) == 5
    for block in blocks:
        body = json.loads(block.split("\n# ")[0])
        job = LeptonJob.model_validate(body)
        validate_job_create(job)
        assert job.spec.resource_shape == "gpu.a100-80gb"
        assert [e.value_from.secret_name_ref for e in job.spec.envs if e.value_from] == [
            "LEPTON_API_KEY"
        ]


def test_lepton_deployment_spec_uses_replicas(
    seed_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("leptonai", reason="pip install 'nv-eval[lepton]'")
    from leptonai.api.v2.types.deployment import LeptonDeployment

    assert (
        main(
            [
                "run",
                "--config-name",
                "cloud_evaluation",
                "--config-dir",
                str(seed_dir),
                "--dry-run",
                "-o",
                "+deployment.type=hf",
                "-o",
                "config.type=gsm8k",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    body = json.loads(out.split("# Lepton deployment of the model\n")[1].split("\n# job")[0])
    dep = LeptonDeployment.model_validate(body)
    assert dep.spec.resource_requirement.min_replicas == 4
    assert dep.spec.resource_requirement.max_replicas == 10
