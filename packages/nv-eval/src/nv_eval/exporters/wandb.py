"""WandbExporter: one W&B run per task, offline when no API key is configured.

Options: ``project`` (default ``nv-eval``), ``entity``, ``tags`` (a list), ``mode``
(``online``/``offline``; offline unless ``WANDB_API_KEY`` is set), ``dir`` (default the
invocation directory; offline runs land in ``<dir>/wandb/offline-run-*`` for ``wandb sync``).
Needs ``pip install 'nv-eval[wandb]'``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import require_extra
from .base import Exporter, ExportItem


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
        for item in items:
            run = wandb.init(
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
            dirs.append(str(Path(run.dir).parent) if run.dir else str(root))
        where = dirs[0] if len(dirs) == 1 else f"{root}/wandb"
        return f"{len(items)} run(s) in project '{project}' ({mode}) at {where}"


__all__ = ["WandbExporter"]
