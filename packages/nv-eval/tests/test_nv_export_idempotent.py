"""Exports never overwrite another job's rows, and exporting twice changes nothing."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.testing import OpenAIStubServer
from nv_eval.exporters import ExportItem, run_exporters
from nvidia_eval_commons.api.launcher import ExporterSpec

INV = "abcd1234"


@pytest.fixture(scope="module")
def job_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two finished jobs of one invocation (gsm8k and arc_easy on the bundled samples)."""
    root = tmp_path_factory.mktemp("jobs")
    out = {}
    with OpenAIStubServer(model="stub-model") as upstream:
        for idx, task in enumerate(("gsm8k", "arc_easy")):
            out[f"{INV}.{idx}"] = root / task
            evaluate(
                {"api_endpoint": {"url": upstream.completions_url, "model_id": "stub-model"}},
                {
                    "type": task,
                    "output_dir": str(root / task),
                    "params": {"limit_samples": 3, "extra": {"quiet": True, "dataset": "sample"}},
                },
            )
    yield out


def _item(job_dirs: dict[str, Path], job_id: str) -> ExportItem:
    path = job_dirs[job_id]
    return ExportItem.from_dir(
        job_id=job_id, task=path.name, output_dir=path, config={}, executor="local"
    )


def _export(inv_dir: Path, items: list[ExportItem], type_: str, **config: object) -> str:
    (outcome,) = run_exporters(
        [ExporterSpec(type=type_, config=dict(config))], items, invocation_dir=inv_dir
    )
    assert outcome.ok, outcome.detail
    return outcome.detail


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_two_jobs_exporting_one_after_another_keep_both(
    job_dirs: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    a, b = _item(job_dirs, f"{INV}.0"), _item(job_dirs, f"{INV}.1")
    _export(tmp_path, [a], "local", format=fmt)  # each job exports when it ends
    _export(tmp_path, [b], "local", format=fmt)
    path = tmp_path / "export" / f"metrics.{fmt}"
    first = path.read_bytes()
    rows = list(csv.DictReader(first.decode().splitlines())) if fmt == "csv" else json.loads(first)
    assert {r["job_id"] for r in rows} == {a.job_id, b.job_id}
    assert len(rows) == len(a.result.flat_metrics()) + len(b.result.flat_metrics())
    for row in rows:
        item = a if row["job_id"] == a.job_id else b
        assert float(row["value"]) == pytest.approx(item.result.flat_metrics()[row["metric"]])
    # exporting again (one job, then both) gives the same file
    _export(tmp_path, [a], "local", format=fmt)
    assert path.read_bytes() == first
    _export(tmp_path, [a, b], "local", format=fmt)
    assert path.read_bytes() == first


def test_jobs_exporting_at_the_same_moment_lose_no_rows(
    job_dirs: dict[str, Path], tmp_path: Path
) -> None:
    items = [_item(job_dirs, f"{INV}.0"), _item(job_dirs, f"{INV}.1")]
    barrier = threading.Barrier(len(items) * 4)
    errors: list[BaseException] = []

    def job(item: ExportItem) -> None:
        try:
            barrier.wait()
            _export(tmp_path, [item], "local", format="csv")
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=job, args=(it,)) for it in items * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = list(csv.DictReader((tmp_path / "export" / "metrics.csv").read_text().splitlines()))
    assert sorted({r["job_id"] for r in rows}) == [f"{INV}.0", f"{INV}.1"]
    assert len(rows) == sum(len(it.result.flat_metrics()) for it in items)


def test_a_foreign_metrics_file_is_not_overwritten(
    job_dirs: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "metrics.json").write_text("{not json")
    (outcome,) = run_exporters(
        [ExporterSpec(type="local", config={})],
        [_item(job_dirs, f"{INV}.0")],
        invocation_dir=tmp_path,
    )
    assert not outcome.ok and "is not a metrics file" in outcome.detail
    assert (tmp_path / "export" / "metrics.json").read_text() == "{not json"


@pytest.mark.slow
def test_mlflow_export_twice_keeps_one_run_per_job(
    job_dirs: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("mlflow", reason="pip install 'nv-eval[mlflow]'")
    from mlflow.tracking import MlflowClient

    items = [_item(job_dirs, f"{INV}.0"), _item(job_dirs, f"{INV}.1")]
    _export(tmp_path, items, "mlflow")
    assert "2 unchanged, skipped" in _export(tmp_path, items, "mlflow")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("nv-eval")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.data.tags["nv_eval.job_id"] for r in runs) == [f"{INV}.0", f"{INV}.1"]
    # artifacts live beside the store, not in the current directory
    assert all(r.info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri()) for r in runs)
    assert not Path("mlruns").exists()
    # the job's results change (a resumed job): its run is replaced, still one per job
    results = job_dirs[f"{INV}.0"] / "results.json"
    original = results.read_text()
    try:
        results.write_text(original.replace('"num_samples": 3', '"num_samples": 3 '))
        assert "1 replaced" in _export(tmp_path, items, "mlflow")
    finally:
        results.write_text(original)
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.data.tags["nv_eval.job_id"] for r in runs) == [f"{INV}.0", f"{INV}.1"]


@pytest.mark.slow
def test_wandb_offline_export_twice_keeps_one_run_per_job(
    job_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb", reason="pip install 'nv-eval[wandb]'")
    from nv_eval_testutil import wait_for, wandb_run_data

    monkeypatch.delenv("WANDB_API_KEY", raising=False)  # offline
    items = [_item(job_dirs, f"{INV}.0"), _item(job_dirs, f"{INV}.1")]

    def runs() -> list[Path]:
        return sorted((tmp_path / "wandb").glob("offline-run-*"))

    def data_of(run: Path, key: str = "") -> dict[str, object]:
        """The run's records, once W&B's service (which may write after finish()) has them."""
        (data_file,) = run.glob("run-*.wandb")

        def complete() -> dict[str, object] | None:
            try:
                data = wandb_run_data(data_file)
            except Exception:  # a record still being written
                return None
            return data if data["tags"] and (not key or key in data["summary"]) else None  # type: ignore[operator]

        return wait_for(complete, timeout=30)

    def task_of(run: Path) -> str:
        tags = data_of(run)["tags"]
        return next(t for t in ("gsm8k", "arc_easy") if t in tags)  # type: ignore[operator]

    _export(tmp_path, items, "wandb")
    first = runs()
    assert sorted(task_of(r) for r in first) == ["arc_easy", "gsm8k"]
    again = _export(tmp_path, items, "wandb")
    assert runs() == first  # no second run, the first ones untouched
    assert "2 unchanged, skipped" in again
    # the job's results change (a resumed job): its run is replaced, still one per job
    results = job_dirs[f"{INV}.0"] / "results.json"
    original = results.read_text()
    try:
        results.write_text(original.replace('"num_samples": 3', '"num_samples": 3 '))
        detail = _export(tmp_path, items, "wandb")
    finally:
        results.write_text(original)
    after = runs()
    assert len(after) == 2 and len(set(after) & set(first)) == 1
    (new,) = set(after) - set(first)
    assert task_of(new) == items[0].task
    assert "1 replaced" in detail and "1 unchanged, skipped" in detail
    metric, value = next(iter(items[0].result.flat_metrics().items()))
    assert data_of(new, metric)["summary"][metric] == pytest.approx(value)  # type: ignore[index]
