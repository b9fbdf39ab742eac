"""``nv-eval`` as scripts use it, through its console script: --version, no abbreviations,
--json on listings, status and run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nv_eval_testutil import eval_config, write_config

SCRIPT = Path(sys.executable).with_name("nv-eval")


def _run(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NV_EVAL_HOME": str(home), "NEMO_EVALUATOR_QUIET": "1"}
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_version_and_no_abbreviations(tmp_path: Path) -> None:
    done = _run("--version", cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 0 and done.stdout.startswith("nv-eval 0.")
    done = _run("run", "--config-nam", "x", cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 2 and "--config-nam" in done.stderr


def test_ls_tasks_json(tmp_path: Path) -> None:
    done = _run("ls", "tasks", "--json", cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 0, done.stderr
    tasks = {row["task"]: row["endpoint_types"] for row in json.loads(done.stdout)}
    assert tasks["arc_easy"] == ["completions"] and tasks["gsm8k_chat"] == ["chat"]


@pytest.mark.slow
def test_run_status_and_ls_json_on_stdout(tmp_path: Path, stub: object) -> None:
    write_config(
        tmp_path,
        "ev",
        target={"api_endpoint": {"url": f"{stub.url}/v1/completions", "model_id": "stub-model"}},  # type: ignore[attr-defined]
        config=eval_config("", tasks="arc_easy", limit=2),
        execution={"executor": "local", "output_dir": "./out"},
    )
    home = tmp_path / "h"
    done = _run("run", "--config-name", "ev", "--json", cwd=tmp_path, home=home)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)  # only JSON on stdout; the live table went to stderr
    (job,) = run["jobs"]
    assert job["state"] == "success" and set(job["metrics"]) >= {"arc_easy.acc"}
    status = json.loads(
        _run("status", run["invocation_id"], "--json", cwd=tmp_path, home=home).stdout
    )
    assert status["jobs"][0]["metrics"] == job["metrics"]
    listing = json.loads(_run("ls", "--json", cwd=tmp_path, home=home).stdout)
    assert [inv["id"] for inv in listing] == [run["invocation_id"]]
    done = _run("export", run["invocation_id"], "--format", "lm-eval", cwd=tmp_path, home=home)
    assert done.returncode == 0, done.stderr
    folder = Path(job["output_dir"]).parents[1] / "export" / "lm_eval" / "stub-model"
    (results,) = folder.glob("results_*.json")
    row = json.loads(results.read_text())["results"]["arc_easy"]
    assert row["acc,none"] == job["metrics"]["arc_easy.acc"]
    assert len(list(folder.glob("samples_arc_easy_*.jsonl"))) == 1


def test_ls_into_a_closed_pipe_ends_quietly_with_141(tmp_path: Path) -> None:
    """``nv-eval ls tasks --json | head -0`` prints no traceback and exits as SIGPIPE would."""
    env = {**os.environ, "NV_EVAL_HOME": str(tmp_path / "h")}
    proc = subprocess.Popen(
        [str(SCRIPT), "ls", "tasks", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=300)
    assert (proc.returncode, err) == (141, b"")
