"""MlflowExporter: one MLflow run per task with params, metrics, artifacts and tags.

Options: ``tracking_uri`` (default: a SQLite store ``<invocation dir>/mlflow.db``),
``experiment_name`` (default ``nv-eval``), ``tags`` (a dict or a list of labels),
``run_name`` (default ``<task>-<job id>``), ``artifact_location`` (of a new experiment; with
the default store: ``<invocation dir>/mlartifacts``, never the current directory). Needs ``pip install 'nv-eval[mlflow]'``.

Exporting is idempotent: each run is tagged with its job id and the sha256 of the job's
results; a job already exported with the same results is skipped, and one whose results
changed (a resumed or re-run job) replaces its earlier run (deleted), so the experiment holds
one run per job.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import require_extra
from .base import Exporter, ExportItem


def default_tracking_uri(invocation_dir: Any) -> str:
    return f"sqlite:///{(invocation_dir / 'mlflow.db').resolve()}"


def _metric_key(key: str) -> str:
    """MLflow keys allow letters, digits, ``_ - . /`` and spaces."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", key)


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        return {str(t): "true" for t in raw}
    return {}


class MlflowExporter(Exporter):
    name = "mlflow"

    def export(self, items: list[ExportItem]) -> str:
        require_extra("mlflow", "mlflow")
        from mlflow.tracking import MlflowClient

        self.invocation_dir.mkdir(parents=True, exist_ok=True)
        uri = str(self.options.get("tracking_uri") or default_tracking_uri(self.invocation_dir))
        client = MlflowClient(tracking_uri=uri)
        name = str(self.options.get("experiment_name") or "nv-eval")
        found = client.get_experiment_by_name(name)
        location = self.options.get("artifact_location")
        if location is None and not self.options.get("tracking_uri"):
            location = (self.invocation_dir / "mlartifacts").resolve().as_uri()
        experiment_id = (
            found.experiment_id
            if found
            else client.create_experiment(name, artifact_location=location)
        )
        user_tags = _tags(self.options.get("tags"))
        run_ids = []
        skipped = replaced = 0
        for item in items:
            digest = item.digest()
            earlier = client.search_runs(
                [experiment_id], filter_string=f"tags.`nv_eval.job_id` = '{item.job_id}'"
            )
            same = [
                r
                for r in earlier
                if r.data.tags.get("nv_eval.results_sha256") == digest
                and r.info.status == "FINISHED"
            ]
            if same:
                skipped += 1
                for run in earlier:
                    if run.info.run_id != same[0].info.run_id:
                        client.delete_run(run.info.run_id)
                continue
            tags = {
                **user_tags,
                "nv_eval.invocation_id": item.invocation_id,
                "nv_eval.job_id": item.job_id,
                "nv_eval.task": item.task,
                "nv_eval.executor": item.executor,
                "nv_eval.results_sha256": digest,
            }
            run_name = str(self.options.get("run_name") or f"{item.task}-{item.job_id}")
            run = client.create_run(experiment_id, run_name=run_name, tags=tags)
            run_id = run.info.run_id
            try:
                for key, value in item.params().items():
                    client.log_param(run_id, key, str(value)[:6000])
                for key, value in item.result.flat_metrics().items():
                    client.log_metric(run_id, _metric_key(key), float(value))
                for key, value in item.stderrs().items():
                    client.log_metric(run_id, _metric_key(f"{key}_stderr"), float(value))
                for artifact in item.artifacts():
                    client.log_artifact(run_id, str(artifact))
            except Exception:
                client.set_terminated(run_id, status="FAILED")
                raise
            client.set_terminated(run_id, status="FINISHED")
            for old in earlier:  # the same job with other results: keep only the new run
                client.delete_run(old.info.run_id)
                replaced += 1
            run_ids.append(run_id)
        notes = [
            f"{n} {what}"
            for n, what in ((skipped, "unchanged, skipped"), (replaced, "replaced"))
            if n
        ]
        extra = f" ({', '.join(notes)})" if notes else ""
        return f"{len(run_ids)} run(s) in experiment '{name}' at {uri}{extra}"


__all__ = ["MlflowExporter", "default_tracking_uri"]
