"""LocalExporter: flat metrics as JSON or CSV, plus a copy of each job's result files.

Options: ``dest_dir`` (default ``<invocation dir>/export``), ``format`` (json or csv; the
``--format`` flag otherwise). Output: ``metrics.json`` / ``metrics.csv`` with one row per
(job, metric) and ``<job id>/`` holding copies of results.yml, results.json, samples.jsonl
and report.html.

The metrics file is shared by the jobs of an invocation (each job exports when it ends, maybe
at the same moment as another): an export replaces the rows of its own jobs only, under a
lock, and rewrites the file atomically, so exporting twice gives the same file and no job's
rows are lost.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nvidia_eval_commons.files import atomic_write

from ..errors import ExporterError
from .base import Exporter, ExportItem

FIELDS = ("invocation_id", "job_id", "task", "model_id", "metric", "value", "stderr")


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


@contextlib.contextmanager
def _locked(dest: Path) -> Iterator[None]:
    with open(dest / ".metrics.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _number(text: Any) -> Any:
    if text in (None, ""):
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def read_rows(path: Path, fmt: str) -> list[dict[str, Any]]:
    """The rows already in ``path`` (none when it does not exist)."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    try:
        if fmt == "json":
            rows = json.loads(text)
            return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
        return [
            {**r, "value": _number(r.get("value")), "stderr": _number(r.get("stderr"))}
            for r in csv.DictReader(io.StringIO(text))
        ]
    except ValueError as err:
        raise ExporterError(
            f"{path} is not a metrics file nv-eval wrote ({err}); move it away or set "
            "dest_dir to another directory"
        ) from None


def _render(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(FIELDS), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: r.get(k) for k in FIELDS} for r in rows)
    return buf.getvalue()


class LocalExporter(Exporter):
    name = "local"

    def export(self, items: list[ExportItem]) -> str:
        fmt = str(self.options.get("format") or self.fmt)
        if fmt not in ("json", "csv", "lm-eval"):
            raise ExporterError(
                f"unknown format '{fmt}' for the local exporter; use json, csv or lm-eval"
            )
        dest = Path(self.options.get("dest_dir") or self.invocation_dir / "export").expanduser()
        dest.mkdir(parents=True, exist_ok=True)
        if fmt == "lm-eval":
            from nemo_evaluator.core.export_lm_eval import write_lm_eval

            files = [f for item in items for f in write_lm_eval(item.output_dir, dest / "lm_eval")]
            return f"{len(files)} lm-eval file(s) of {len(items)} job(s) in {dest / 'lm_eval'}"
        rows = metric_rows(items)
        path = dest / f"metrics.{fmt}"
        mine = {item.job_id for item in items}
        with _locked(dest):
            kept = [r for r in read_rows(path, fmt) if r.get("job_id") not in mine]
            merged = sorted(kept + rows, key=lambda r: (str(r.get("job_id")), str(r["metric"])))
            atomic_write(path, _render(merged, fmt))
        for item in items:
            target = dest / item.job_id
            target.mkdir(exist_ok=True)
            for artifact in item.artifacts():
                shutil.copy2(artifact, target / artifact.name)
        return f"{len(rows)} metrics of {len(items)} job(s) in {path} ({len(merged)} rows in all)"


__all__ = ["LocalExporter", "metric_rows", "read_rows"]
