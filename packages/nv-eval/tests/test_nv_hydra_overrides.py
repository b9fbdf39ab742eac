"""Hydra overrides as users write them, --multirun sweeps, and one base for relative paths,
through ``nv-eval run --dry-run`` and a real local run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from nv_eval_testutil import eval_config, write_config

from nv_eval.cli import main

SCRIPT = Path(sys.executable).with_name("nv-eval")


def _yaml(tmp_path: Path, url: str = "http://127.0.0.1:9/v1/completions", **extra: object) -> None:
    write_config(
        tmp_path,
        "ev",
        target={"api_endpoint": {"url": url, "model_id": "stub-model", **extra}},
        config=eval_config("", tasks="arc_easy", limit=2),
        execution={"executor": "local", "output_dir": "./out"},
    )


def _configs(out: str) -> list[dict]:
    """The resolved configs a dry run prints."""
    blocks = out.split("# resolved config")[1:]
    return [yaml.safe_load(b.split("\n", 1)[1].split("\n# job", 1)[0]) for b in blocks]


def test_positional_add_and_delete_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _yaml(tmp_path)
    args = ["run", "--config-name", "ev", "config.type=arc_challenge", "--dry-run"]
    args += ["+config.params.temperature=0.5", "~config.params.limit_samples", "-o"]
    args += ["execution.parallel_jobs=3"]
    assert main(args) == 0
    (cfg,) = _configs(capsys.readouterr().out)
    assert cfg["config"]["type"] == "arc_challenge"
    assert cfg["config"]["params"]["temperature"] == 0.5
    assert "limit_samples" not in cfg["config"]["params"]
    assert cfg["execution"]["parallel_jobs"] == 3
    # without --multirun a comma list is one value: one config, two jobs
    assert main(["run", "--config-name", "ev", "config.type=arc_easy,gsm8k", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert len(_configs(out)) == 1 and out.count("# job ") == 2


def test_override_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _yaml(tmp_path)
    assert main(["run", "--config-name", "ev", "+config.type=gsm8k", "--dry-run"]) == 2
    assert "cannot add 'config.type': it is already set" in capsys.readouterr().err
    assert main(["run", "--config-name", "ev", "~config.nothing", "--dry-run"]) == 2
    assert "cannot delete 'config.nothing'" in capsys.readouterr().err
    assert main(["run", "--config-name", "ev", "config.type", "--dry-run"]) == 2
    assert "'config.type' is not an override" in capsys.readouterr().err


def test_multirun_makes_one_job_per_combination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _yaml(tmp_path)
    args = ["run", "--config-name", "ev", "--multirun", "--dry-run"]
    args += ["config.params.temperature=0,0.7", "config.params.limit_samples=range(1,4)"]
    assert main(args) == 0
    out = capsys.readouterr().out
    cfgs = _configs(out)
    pairs = [
        (c["config"]["params"]["temperature"], c["config"]["params"]["limit_samples"]) for c in cfgs
    ]
    assert pairs == [(0, 1), (0, 2), (0, 3), (0.7, 1), (0.7, 2), (0.7, 3)]
    assert out.count("# job ") == 6 and "# job 5: arc_easy" in out
    # a sweep over the executor cannot be one invocation
    args = ["run", "--config-name", "ev", "-m", "--dry-run", "execution.parallel_jobs=1,2"]
    assert main(args) == 2
    assert "must share one execution section" in capsys.readouterr().err


def test_overrides_after_options_through_the_console_script(tmp_path: Path) -> None:
    _yaml(tmp_path)
    env = {**os.environ, "NV_EVAL_HOME": str(tmp_path / "h")}
    done = subprocess.run(
        [
            str(SCRIPT),
            "run",
            "--dry-run",
            "-m",
            "--config-name",
            "ev",
            "config.type=arc_easy,gsm8k",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [c["config"]["type"] for c in _configs(done.stdout)] == ["arc_easy", "gsm8k"]


def test_relative_paths_resolve_against_the_directory_run_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _yaml(tmp_path, adapter_config={"use_caching": True, "caching_dir": "./cache"})
    assert (
        main(
            [
                "run",
                "--config-name",
                "ev",
                "--dry-run",
                "+config.params.extra.dataset_path=data/arc",
            ]
        )
        == 0
    )
    (cfg,) = _configs(capsys.readouterr().out)
    assert cfg["target"]["api_endpoint"]["adapter_config"]["caching_dir"] == str(tmp_path / "cache")
    assert cfg["execution"]["output_dir"] == str(tmp_path / "out")
    assert cfg["config"]["params"]["extra"]["dataset_path"] == str(tmp_path / "data" / "arc")
    assert cfg["config"]["output_dir"] == "results"  # inside each job's directory, by design


@pytest.mark.slow
def test_cache_is_shared_across_two_runs_of_the_same_yaml(
    tmp_path: Path,
    stub: object,
    nv_home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    _yaml(
        tmp_path,
        url=f"{stub.url}/v1/completions",  # type: ignore[attr-defined]
        adapter_config={"use_caching": True, "caching_dir": "./cache"},
    )
    hits = []
    for _ in range(2):
        assert main(["run", "--config-name", "ev", "--json"]) == 0
        (job,) = json.loads(capsys.readouterr().out)["jobs"]
        result = json.loads((Path(job["output_dir"]) / "results.json").read_text())
        hits.append(result["metadata"]["num_cache_hits"])
    assert hits == [0, 2]
    assert (tmp_path / "cache").is_dir()
