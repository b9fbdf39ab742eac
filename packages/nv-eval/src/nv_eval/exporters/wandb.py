"""WandbExporter: one W&B run per task, offline when no API key is configured.

Options: ``project`` (default ``nv-eval``), ``entity``, ``tags`` (a list), ``mode``
(``online``/``offline``; offline unless ``WANDB_API_KEY`` is set), ``dir`` (default the
invocation directory; offline runs land in ``<dir>/wandb/offline-run-*`` for ``wandb sync``).
Needs ``pip install 'nv-eval[wandb]'``.

Exporting is idempotent: each job's run id is derived from the project and the job id, so W&B
itself keeps one run per job (``resume="allow"``: a re-export online updates that run). Offline,
each run directory records the sha256 of the job's results (``nv_eval_export.json``): a job
already exported with the same results is skipped, and one whose results changed replaces its
earlier directory, so ``<dir>/wandb`` holds one offline run per job.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from ..errors import require_extra
from .base import Exporter, ExportItem

MARKER = "nv_eval_export.json"


def run_id(project: str, job_id: str) -> str:
    """The W&B run id of one job: stable, so exporting again never makes a second run."""
    return "nveval-" + hashlib.sha256(f"{project}/{job_id}".encode()).hexdigest()[:24]


def _offline_runs(root: Path, rid: str) -> list[Path]:
    return sorted((root / "wandb").glob(f"offline-run-*-{rid}"))


def _exported_digest(run_dir: Path) -> str | None:
    try:
        return str(json.loads((run_dir / MARKER).read_text(encoding="utf-8"))["results_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an export that did not finish, or not ours: replaced


class WandbExporter(Exporter):
    name = "wandb"

    def export(self, items: list[ExportItem]) -> str:
        wandb = require_extra("wandb", "wandb")
        mode = str(
            self.options.get("mode") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        )
        root = Path(self.options.get("dir") or self.invocation_dir).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        project = str(self.options.get("project") or "nv-eval")
        tags = [str(t) for t in self.options.get("tags") or []]
        dirs = []
        skipped = replaced = 0
        try:
            for item in items:
                rid, digest = run_id(project, item.job_id), item.digest()
                earlier = _offline_runs(root, rid) if mode == "offline" else []
                same = [d for d in earlier if _exported_digest(d) == digest]
                if same:
                    skipped += 1
                    for stale in earlier:  # copies left by an export that was interrupted
                        if stale != same[-1]:
                            shutil.rmtree(stale, ignore_errors=True)
                    dirs.append(str(same[-1]))
                    continue
                run = wandb.init(
                    id=rid,
                    resume="allow",
                    project=project,
                    entity=self.options.get("entity"),
                    name=f"{item.task}-{item.job_id}",
                    group=item.invocation_id,
                    job_type="evaluation",
                    tags=[*tags, item.task],
                    config={
                        **item.params(),
                        "invocation_id": item.invocation_id,
                        "job_id": item.job_id,
                        "nv_eval.results_sha256": digest,
                    },
                    dir=str(root),
                    mode=mode,
                    reinit="create_new",
                    settings=wandb.Settings(silent=True, console="off"),
                )
                try:
                    metrics = item.result.flat_metrics()
                    metrics.update({f"{k}_stderr": v for k, v in item.stderrs().items()})
                    run.log(metrics)
                    run.summary.update(metrics)
                    for artifact in item.artifacts():
                        run.save(str(artifact), base_path=str(artifact.parent), policy="now")
                finally:
                    run.finish()
                run_dir = Path(run.dir).parent if run.dir else root
                if mode == "offline":
                    marker = {"job_id": item.job_id, "results_sha256": digest}
                    (run_dir / MARKER).write_text(json.dumps(marker), encoding="utf-8")
                    for old in earlier:  # the same job with other results: keep only the new run
                        if old != run_dir:
                            shutil.rmtree(old, ignore_errors=True)
                            replaced += 1
                dirs.append(str(run_dir))
        finally:
            # W&B's service process writes run files after run.finish() returns; shutting it
            # down waits for those writes, so the files are complete when the export reports them
            wandb.teardown()
        where = dirs[0] if len(dirs) == 1 else f"{root}/wandb"
        notes = [
            f"{n} {w}" for n, w in ((skipped, "unchanged, skipped"), (replaced, "replaced")) if n
        ]
        extra = f" ({', '.join(notes)})" if notes else ""
        return f"{len(items) - skipped} run(s) in project '{project}' ({mode}) at {where}{extra}"


__all__ = ["MARKER", "WandbExporter", "run_id"]
