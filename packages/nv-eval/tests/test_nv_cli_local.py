"""End to end: nv-eval run/status/kill/export with the local executor against a real server."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from nv_eval_testutil import eval_config, wait_for, wandb_run_data, write_config

from nv_eval.cli import main


def _status(capsys: pytest.CaptureFixture[str], ident: str) -> dict:
    capsys.readouterr()
    assert main(["status", ident, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _inv_id(out: str) -> str:
    return out.split("invocation", 1)[1].split()[0]


@pytest.mark.slow
def test_run_two_tasks_status_export(
    nv_home: Path,
    stub: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path,
        "my_evaluation",
        target={"api_endpoint": {"url": f"{stub.url}/v1/completions/", "model_id": "stub-model"}},  # type: ignore[attr-defined]
        config=eval_config("", limit=6),
        execution={"executor": "local", "output_dir": "./evaluation_results"},
    )
    code = main(
        [
            "run",
            "--config-name",
            "my_evaluation",
            "-o",
            "config.type=gsm8k,arc_easy",
            "-o",
            "execution.parallel_jobs=2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    inv = _inv_id(out)
    assert "gsm8k.exact_match" in out and "arc_easy.acc" in out
    status = _status(capsys, inv[:4])  # a unique prefix
    assert [j["task"] for j in status["jobs"]] == ["gsm8k", "arc_easy"]
    assert all(j["state"] == "success" for j in status["jobs"])
    assert all(j["progress"] == {"done": 6, "total": 6} for j in status["jobs"])
    for job in status["jobs"]:
        assert (Path(job["output_dir"]) / "results.yml").is_file()
    # export: local csv, MLflow read back with its client, W&B offline read back from disk
    assert main(["export", inv, "--dest", "local,mlflow,wandb", "--format", "csv"]) == 0
    inv_dir = tmp_path / "evaluation_results" / inv
    rows = list(csv.DictReader((inv_dir / "export" / "metrics.csv").read_text().splitlines()))
    assert {r["task"] for r in rows} == {"gsm8k", "arc_easy"}
    results = yaml.safe_load((Path(status["jobs"][1]["output_dir"]) / "results.yml").read_text())
    acc = results["tasks"]["arc_easy"]["metrics"]["acc"]["scores"]["acc"]["value"]
    assert float(next(r for r in rows if r["metric"] == "arc_easy.acc")["value"]) == pytest.approx(
        acc
    )
    assert (inv_dir / "export" / f"{inv}.0" / "report.html").is_file()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{inv_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("nv-eval")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.data.tags["nv_eval.task"] for r in runs) == ["arc_easy", "gsm8k"]
    arc = next(r for r in runs if r.data.tags["nv_eval.task"] == "arc_easy")
    assert arc.data.metrics["arc_easy.acc"] == pytest.approx(acc)
    assert arc.data.params["limit_samples"] == "6"
    assert "results.yml" in {a.path for a in client.list_artifacts(arc.info.run_id)}

    run_files = sorted((inv_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(run_files) == 2
    runs_data = [wandb_run_data(p) for p in run_files]
    arc_run = next(d for d in runs_data if "arc_easy" in d["tags"])
    assert arc_run["project"] == "nv-eval"
    assert arc_run["summary"]["arc_easy.acc"] == pytest.approx(acc)
    assert list((inv_dir / "wandb").glob("offline-run-*/files/results.yml"))
    # json format too
    assert main(["export", inv, "--dest", "local", "--format", "json"]) == 0
    data = json.loads((inv_dir / "export" / "metrics.json").read_text())
    assert {d["job_id"] for d in data} == {f"{inv}.0", f"{inv}.1"}


@pytest.mark.slow
def test_status_during_run_then_kill(
    nv_home: Path,
    stub: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    from nemo_evaluator.testing import OpenAIStubServer

    with OpenAIStubServer(model="slow", latency_s=0.5) as slow:
        write_config(
            tmp_path,
            "slow",
            target={"api_endpoint": {"url": f"{slow.url}/v1/completions/", "model_id": "slow"}},
            config={
                **eval_config("", limit=60),
                "params": {"limit_samples": 60, "parallelism": 1, "extra": {"dataset": "sample"}},
            },
            execution={"executor": "local", "output_dir": "./out", "parallel_jobs": 1},
        )
        assert (
            main(["run", "--config-name", "slow", "-o", "config.type=gsm8k,arc_easy", "--detach"])
            == 0
        )
        inv = _inv_id(capsys.readouterr().out)
        # one slot: the first job runs, the second waits
        st = wait_for(
            lambda: (s := _status(capsys, inv))["jobs"][0]["progress"]["done"] > 0 and s, timeout=60
        )
        assert [j["state"] for j in st["jobs"]] == ["running", "pending"]
        assert main(["kill", f"{inv}.0"]) == 0
        st = wait_for(
            lambda: (s := _status(capsys, inv))["jobs"][1]["state"] == "running" and s, timeout=60
        )
        assert st["jobs"][0]["state"] == "killed"
        assert main(["kill", inv]) == 0
        st = _status(capsys, inv)
        assert [j["state"] for j in st["jobs"]] == ["killed", "killed"]
        capsys.readouterr()
        assert main(["logs", f"{inv}.1"]) == 0
        assert "[nv-eval]" not in capsys.readouterr().err


def test_unknown_id_suggests_nearest(nv_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nv_eval.store import Store

    with Store() as store:
        inv, _ = store.create_invocation(
            executor="local", output_dir="/tmp", config={}, tasks=["gsm8k"]
        )
    wrong = inv.id[:-1] + ("0" if inv.id[-1] != "0" else "1")
    assert main(["status", wrong]) == 2
    assert f"did you mean {inv.id}" in capsys.readouterr().err


def test_store_is_wal_and_survives_concurrent_writers(nv_home: Path) -> None:
    import threading

    from nv_eval.store import Store

    with Store() as store:
        _inv, jobs = store.create_invocation(
            executor="local", output_dir="/tmp", config={}, tasks=["a", "b"]
        )
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with Store() as s:
                for n in range(50):
                    s.update_job(jobs[i % 2].id, message=f"{i}-{n}")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    conn = sqlite3.connect(nv_home / "invocations.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.slow
def test_report_compares_two_invocations(
    nv_home: Path,
    stub: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    ids = []
    for model in ("model-a", "model-b"):
        write_config(
            tmp_path,
            f"eval_{model}",
            target={"api_endpoint": {"url": f"{stub.url}/v1/completions/", "model_id": model}},  # type: ignore[attr-defined]
            config=eval_config("", tasks="arc_easy", limit=4),
            execution={"executor": "local", "output_dir": f"./out_{model}"},
        )
        assert main(["run", "--config-name", f"eval_{model}"]) == 0
        ids.append(_inv_id(capsys.readouterr().out))
    assert main(["ls", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in listed[:2]] == ids[::-1]  # newest first
    assert listed[0]["jobs"][0]["state"] == "success"

    assert main(["report", *ids, "--output", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "model-a" in out and "model-b" in out
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert md.splitlines()[0] == "| benchmark | model-a | model-b |"
    assert md.splitlines()[2].startswith("| arc_easy.acc_norm | ")
    assert md.count("±") == 2
    page = (tmp_path / "cmp" / "comparison.html").read_text()
    assert page.count("<rect ") == 2


def test_report_of_an_unknown_id_suggests_nothing_silently(
    nv_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "zzzz"]) != 0
    err = capsys.readouterr().err
    assert "zzzz" in err and err[-1] == "\n" and err.count("\n") == 1
