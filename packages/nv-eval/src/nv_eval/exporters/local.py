"""LocalExporter: flat metrics as JSON or CSV, plus a copy of each job's result files.

Options: ``dest_dir`` (default ``<invocation dir>/export``), ``format`` (json or csv; the
``--format`` flag otherwise). Output: ``metrics.json`` / ``metrics.csv`` with one row per
(job, metric) and ``<job id>/`` holding copies of results.yml, results.json, samples.jsonl
and report.html.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from ..errors import ExporterError
from .base import Exporter, ExportItem


def metric_rows(items: list[ExportItem]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item in items:
        stderrs = item.stderrs()
        for key, value in item.result.flat_metrics().items():
            rows.append(
                {
                    "invocation_id": item.invocation_id,
                    "job_id": item.job_id,
                    "task": item.task,
                    "model_id": item.params().get("model_id"),
                    "metric": key,
                    "value": value,
                    "stderr": stderrs.get(key),
                }
            )
    return rows


class LocalExporter(Exporter):
    name = "local"

    def export(self, items: list[ExportItem]) -> str:
        fmt = str(self.options.get("format") or self.fmt)
        if fmt not in ("json", "csv"):
            raise ExporterError(f"unknown format '{fmt}' for the local exporter; use json or csv")
        dest = Path(self.options.get("dest_dir") or self.invocation_dir / "export").expanduser()
        dest.mkdir(parents=True, exist_ok=True)
        rows = metric_rows(items)
        path = dest / f"metrics.{fmt}"
        if fmt == "json":
            path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        else:
            with open(path, "w", newline="", encoding="utf-8") as fh:
                fields = [
                    "invocation_id",
                    "job_id",
                    "task",
                    "model_id",
                    "metric",
                    "value",
                    "stderr",
                ]
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        for item in items:
            target = dest / item.job_id
            target.mkdir(exist_ok=True)
            for artifact in item.artifacts():
                shutil.copy2(artifact, target / artifact.name)
        return f"{len(rows)} metrics of {len(items)} job(s) in {path}"


__all__ = ["LocalExporter", "metric_rows"]
