from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nvidia_eval_commons import ConfigError
from nvidia_eval_commons.api.launcher import LauncherConfig
from nvidia_eval_commons.schema import launcher_json_schema, load_launcher_yaml, main

SEEDS = Path(__file__).parent / "seed_yaml"


@pytest.mark.parametrize(
    "name", ["my_evaluation.yaml", "slurm_evaluation.yaml", "cloud_evaluation.yaml"]
)
def test_seed_yaml_files_validate(name: str) -> None:
    cfg = load_launcher_yaml(SEEDS / name)
    assert cfg.target.api_endpoint.url.startswith("http")
    assert cfg.config.task_types


def test_pattern4_details() -> None:
    cfg = load_launcher_yaml(SEEDS / "slurm_evaluation.yaml")
    assert cfg.execution.executor == "slurm"
    assert cfg.execution.slurm is not None
    assert cfg.execution.slurm.nodes == 4 and cfg.execution.slurm.gpus_per_node == 8
    assert cfg.execution.slurm.time_limit == "04:00:00"
    assert cfg.deployment is not None and cfg.deployment.tensor_parallelism_size == 8
    assert cfg.config.task_types == ["gsm8k", "hellaswag", "arc_easy", "mmlu"]


def test_pattern5_details() -> None:
    cfg = load_launcher_yaml(SEEDS / "cloud_evaluation.yaml")
    assert cfg.execution.lepton is not None and cfg.execution.lepton.max_replicas == 10
    assert [e.type for e in cfg.exporters] == ["wandb", "mlflow"]
    assert cfg.exporters[0].config["tags"] == ["cloud", "production"]


def test_unknown_executor_lists_valid_ones() -> None:
    data = yaml.safe_load((SEEDS / "my_evaluation.yaml").read_text())
    data["execution"]["executor"] = "kubernetes"
    with pytest.raises(ConfigError) as err:
        LauncherConfig.model_validate(data)
    msg = str(err.value)
    assert "execution.executor" in msg and "'local'" in msg and "'slurm'" in msg


def test_unknown_key_in_slurm_section_suggests_nearest() -> None:
    data = yaml.safe_load((SEEDS / "slurm_evaluation.yaml").read_text())
    data["execution"]["slurm"]["partiton"] = "gpu"
    with pytest.raises(ConfigError) as err:
        LauncherConfig.model_validate(data)
    assert "unknown key 'partiton' in execution.slurm; did you mean 'partition'?" in str(err.value)


def test_missing_config_section_names_it() -> None:
    data = yaml.safe_load((SEEDS / "my_evaluation.yaml").read_text())
    del data["config"]["output_dir"]
    with pytest.raises(ConfigError, match=r"missing required field 'config\.output_dir'"):
        LauncherConfig.model_validate(data)


def test_json_schema_accepts_the_seed_files() -> None:
    import jsonschema

    schema = launcher_json_schema()
    for name in ("my_evaluation.yaml", "slurm_evaluation.yaml", "cloud_evaluation.yaml"):
        jsonschema.validate(yaml.safe_load((SEEDS / name).read_text()), schema)
    bad = yaml.safe_load((SEEDS / "my_evaluation.yaml").read_text())
    bad["execution"]["executr"] = "local"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_schema_cli_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    assert main([str(out)]) == 0
    schema = json.loads(out.read_text())
    assert {"target", "config", "execution", "deployment", "exporters"} <= set(schema["properties"])
