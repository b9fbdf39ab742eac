"""API keys through the launcher: they reach the upstream, and no file, store or export holds them."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from nv_eval_testutil import eval_config, write_config

from nemo_evaluator.testing.secrets import KEY_SHAPES, files_holding
from nv_eval.cli import main

KEYS = KEY_SHAPES


def _conf_dir(tmp_path: Path) -> Path:
    return tmp_path.parent / f"{tmp_path.name}-conf"


def _run_sec(tmp_path: Path, *extra: str) -> int:
    """``nv-eval run`` of the config ``_config`` wrote (``extra``: e.g. ``--dry-run``)."""
    return main(["run", "--config-name", "sec", "--config-dir", str(_conf_dir(tmp_path)), *extra])


def _config(tmp_path: Path, url: str, api_key: str, **execution: object) -> None:
    """The user's own file (which holds a literal key) lives apart from what the run writes."""
    write_config(
        _conf_dir(tmp_path),
        "sec",
        target={
            "api_endpoint": {
                "url": f"{url}/v1/completions/",
                "model_id": "stub-model",
                "api_key": api_key,
                "adapter_config": {"use_request_logging": True, "use_response_logging": True},
            }
        },
        config=eval_config("", limit=2),
        execution={"executor": "local", "output_dir": "./evaluation_results", **execution},
        exporters=[{"type": "local", "config": {"format": "csv"}}],
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "how"), [("upper", "literal"), ("sk", "reference"), ("symbols", "literal")]
)
def test_launcher_run_keeps_every_key_shape_out_of_files(
    shape: str,
    how: str,
    nv_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nemo_evaluator.testing import OpenAIStubServer

    key = KEYS[shape]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MY_LAUNCH_KEY", key)
    given = key if how == "literal" else "${oc.env:MY_LAUNCH_KEY}"
    with OpenAIStubServer(model="stub-model") as upstream:
        _config(tmp_path, upstream.url, given)
        assert _run_sec(tmp_path, "--dry-run") == 0
        dry = capsys.readouterr()
        assert key not in dry.out + dry.err
        assert _run_sec(tmp_path) == 0, capsys.readouterr()
        out = capsys.readouterr()
        inv = out.out.split("invocation", 1)[1].split()[0]
        dests = "local,mlflow" if importlib.util.find_spec("mlflow") else "local"
        assert main(["export", inv, "--dest", dests, "--format", "json"]) == 0
        printed = out.out + out.err + "".join(capsys.readouterr())
        auth = {r.headers.get("Authorization") for r in upstream.requests}
    assert auth == {f"Bearer {key}"}
    assert key not in printed
    inv_dir = tmp_path / "evaluation_results" / inv
    assert (inv_dir / "export" / "metrics.csv").is_file()  # the job's own exporter ran
    assert list(inv_dir.rglob("results.json"))
    assert files_holding(tmp_path, key) == []  # job files, logs, results, exports, mlflow
    assert files_holding(nv_home, key) == []  # invocations.db
    job = json.loads(next(inv_dir.rglob("job.json")).read_text())
    expected = "MY_LAUNCH_KEY" if how == "reference" else "NV_EVAL_API_KEY"
    assert job["target"]["api_endpoint"]["api_key_env"] == expected
    assert key not in os.environ.get("NV_EVAL_API_KEY", "")  # only the job's environment had it


@pytest.mark.parametrize("given", ["${oc.env:NV_EVAL_TEST_UNSET}", "literal", "lepton"])
def test_unset_reference_or_literal_over_ssh_is_one_line(
    given: str,
    nv_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NV_EVAL_TEST_UNSET", raising=False)
    if given == "literal":
        _config(
            tmp_path,
            "http://127.0.0.1:9",
            "sk-over-ssh-123",
            executor="slurm",
            slurm={"ssh": {"host": "login.example"}},
        )
        want = "cannot reach a job on Slurm over ssh"
    elif given == "lepton":
        _config(tmp_path, "http://127.0.0.1:9", "sk-over-ssh-123", executor="lepton")
        want = "cannot reach a job on Lepton"
    else:
        _config(tmp_path, "http://127.0.0.1:9", given)
        want = "NV_EVAL_TEST_UNSET"
    assert _run_sec(tmp_path) != 0
    err = capsys.readouterr().err.strip()
    assert want in err and len(err.splitlines()) == 1
    assert "sk-over-ssh-123" not in err
    assert not (tmp_path / "evaluation_results").exists()  # nothing submitted


def test_slurm_script_and_dry_run_hold_no_literal_key(
    nv_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _config(tmp_path, "http://127.0.0.1:9", KEYS["symbols"], executor="slurm")
    assert _run_sec(tmp_path, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "#SBATCH" in out and "api_key_env: NV_EVAL_API_KEY" in out
    assert KEYS["symbols"] not in out


@pytest.mark.slurm
@pytest.mark.slow
def test_literal_key_reaches_a_real_slurm_job_through_its_environment_only(
    slurm_cluster: dict[str, str],
    nv_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nemo_evaluator.testing import OpenAIStubServer

    key = KEYS["symbols"]
    monkeypatch.chdir(tmp_path)
    with OpenAIStubServer(model="stub-model") as upstream:
        _config(
            tmp_path,
            upstream.url,
            key,
            executor="slurm",
            slurm={"nodes": 1, "gpus_per_node": 0, "partition": "debug"},
        )
        code = _run_sec(tmp_path)
        out = capsys.readouterr()
        assert code == 0, out
        auth = {r.headers.get("Authorization") for r in upstream.requests}
    assert auth == {f"Bearer {key}"}
    assert key not in out.out + out.err
    sbatch = next((tmp_path / "evaluation_results").rglob("job.sbatch")).read_text()
    assert "NV_EVAL_API_KEY" not in sbatch  # exported by sbatch itself, never in the script
    assert files_holding(tmp_path, key) == [] and files_holding(nv_home, key) == []
