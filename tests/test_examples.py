"""Every integration pattern of the guide runs end to end on CPU with the default model.

Each example is run as a user runs it (a subprocess from its own directory), with small
``limit_samples`` and the real benchmark files, and its outputs are checked.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from stack_testutil import EXAMPLES, run

pytestmark = [pytest.mark.slow, pytest.mark.model]


def _results(path: Path) -> dict:
    return yaml.safe_load((path / "results.yml").read_text())


def test_quickstart_prints_the_results_table(tmp_path: Path, example_env: dict) -> None:
    env = {**example_env, "QUICKSTART_LIMIT": "3", "QUICKSTART_OUTPUT": str(tmp_path / "qs")}
    out = run([sys.executable, str(EXAMPLES / "quickstart.py")], env=env, cwd=tmp_path, timeout=900)
    assert "SmolLM2-135M-Instruct on bundled benchmark samples" in out
    assert "exact_match (strict-match)" in out and "acc_norm" in out
    gsm = _results(tmp_path / "qs" / "gsm8k")
    assert gsm["metadata"]["num_samples"] == 3
    assert (tmp_path / "qs" / "arc_easy" / "report.html").is_file()


def test_pattern1_full_stack_and_cache_reuse(tmp_path: Path, example_env: dict) -> None:
    env = {
        **example_env,
        "EXAMPLE_LIMIT": "2",
        "EXAMPLE_OUTPUT": str(tmp_path / "first"),
        "EXAMPLE_CACHE": str(tmp_path / "cache"),
    }
    script = str(EXAMPLES / "pattern1_full_stack.py")
    out = run([sys.executable, script], env=env, cwd=tmp_path, timeout=900)
    assert "Evaluation completed. Results: EvaluationResult(gsm8k.exact_match" in out
    first = _results(tmp_path / "first")
    assert first["metadata"]["num_samples"] == 2 and first["metadata"]["num_errors"] == 0
    # request/response logs under the output directory, bounded and without secrets
    logged = (tmp_path / "first" / "requests.jsonl").read_text().splitlines()
    assert 1 <= len(logged) <= 100
    assert "authorization" not in (tmp_path / "first" / "requests.jsonl").read_text().lower()
    # a second run into a new output directory is served from the cache
    env["EXAMPLE_OUTPUT"] = str(tmp_path / "second")
    run([sys.executable, script], env=env, cwd=tmp_path, timeout=900)
    second = _results(tmp_path / "second")
    assert second["metadata"]["num_cache_hits"] == 2
    assert second["tasks"] == first["tasks"]


def test_pattern2_launcher_run_export_status(tmp_path: Path, example_env: dict) -> None:
    work = tmp_path / "pattern2"
    shutil.copytree(EXAMPLES / "pattern2", work)
    env = {**example_env, "EXTRA_OVERRIDES": "-o config.params.limit_samples=2"}
    out = run(["bash", str(work / "run.sh")], env=env, cwd=work, timeout=1800)
    listed = json.loads(run(["nv-eval", "ls", "--json"], env=env, cwd=work, timeout=60))
    assert len(listed) == 2
    multi = listed[0]
    assert [j["task"] for j in multi["jobs"]] == ["gsm8k", "hellaswag", "arc_easy"]
    assert all(j["state"] == "success" for inv in listed for j in inv["jobs"])
    inv_dir = work / "evaluation_results" / multi["id"]
    # exports: local json, MLflow store, W&B offline run
    metrics = json.loads((inv_dir / "export" / "metrics.json").read_text())
    assert any(m["metric"].startswith("hellaswag.acc") for m in metrics)
    assert (inv_dir / "mlflow.db").is_file()
    assert list(inv_dir.rglob("offline-run-*"))
    # the status table names every job and its state
    for task in ("gsm8k", "hellaswag", "arc_easy"):
        assert task in out
    assert "success" in out


def test_pattern3_comparative_study(tmp_path: Path, example_env: dict) -> None:
    pytest.importorskip(
        "pytriton", reason="needs the pytriton extra: pip install 'nemo-eval[pytriton]'"
    )
    env = {**example_env, "EXAMPLE_LIMIT": "2", "EXAMPLE_OUTPUT": str(tmp_path / "study")}
    out = run(
        [sys.executable, str(EXAMPLES / "pattern3_comparative_study.py")],
        env=env,
        cwd=tmp_path,
        timeout=1800,
    )
    assert "Evaluating smollm2-pytriton..." in out and "Evaluating smollm2-embedded..." in out
    md = (tmp_path / "study" / "comparison" / "comparison.md").read_text()
    models = [cell.strip() for cell in md.splitlines()[0].split("|")[2:-1]]
    assert set(models) == {"smollm2-pytriton", "smollm2-embedded"}
    rows = {line.split("|")[1].strip() for line in md.splitlines()[2:]}
    assert {"gsm8k.exact_match.strict-match", "hellaswag.acc_norm"} <= rows
    # the same model and greedy decoding on two backends: the same scores
    a = _results(tmp_path / "study" / "smollm2-pytriton" / "arc_easy")
    b = _results(tmp_path / "study" / "smollm2-embedded" / "arc_easy")
    assert a["tasks"] == b["tasks"]


def test_pattern4_on_a_real_slurm(tmp_path: Path, example_env: dict, slurm_cluster: dict) -> None:
    work = tmp_path / "pattern4"
    shutil.copytree(EXAMPLES / "pattern4", work)
    env = {
        **example_env,
        **slurm_cluster,
        "EXTRA_OVERRIDES": "-o config.params.limit_samples=2 -o deployment.backend=embedded",
    }
    out = run(["bash", str(work / "run.sh")], env=env, cwd=work, timeout=2400)
    listed = json.loads(run(["nv-eval", "ls", "--json"], env=env, cwd=work, timeout=60))
    jobs = listed[0]["jobs"]
    assert [j["task"] for j in jobs] == ["gsm8k", "hellaswag", "arc_easy", "mmlu"]
    assert all(j["state"] == "success" for j in jobs), out
    # a relative config.output_dir lives in each job's directory under execution.output_dir
    results = sorted((work / "shared" / "evaluation_results").rglob("results.yml"))
    assert [r.parent.parent.parent.name for r in results] == sorted(
        ["gsm8k", "hellaswag", "arc_easy", "mmlu"]
    )


def test_pattern5_cloud_dry_run(tmp_path: Path, example_env: dict) -> None:
    pytest.importorskip("leptonai", reason="needs the lepton extra: pip install 'nv-eval[lepton]'")
    work = tmp_path / "pattern5"
    shutil.copytree(EXAMPLES / "pattern5", work)
    env = {**example_env, "LEPTON_API_KEY": "not-a-real-key"}
    out = run(["bash", str(work / "run.sh")], env=env, cwd=work, timeout=300)
    assert "not-a-real-key" not in out
    for task in ("gsm8k", "hellaswag", "arc_easy", "mmlu", "humaneval"):
        assert task in out
    assert "gpu.a100-80gb" in out


def test_best_practices(tmp_path: Path, example_env: dict) -> None:
    env = {**example_env, "EXAMPLE_LIMIT": "3", "EXAMPLE_OUTPUT": str(tmp_path / "bp")}
    out = run(
        [sys.executable, str(EXAMPLES / "best_practices.py")], env=env, cwd=tmp_path, timeout=900
    )
    assert "Loaded config for gsm8k at http://0.0.0.0:8080/v1/completions/" in out
    assert "Rejected as expected: Required field 'config.type' not found" in out
    assert "Results: EvaluationResult(arc_easy.acc" in out
    assert _results(tmp_path / "bp")["metadata"]["num_samples"] == 3
