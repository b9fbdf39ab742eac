"""Progress bar (samples/s, ETA) and the summary table, both on stderr via rich."""

from __future__ import annotations

import os
import sys
from typing import Any

from nvidia_eval_commons.api.results import EvaluationResult


def quiet_requested(extra: dict[str, Any]) -> bool:
    return bool(extra.get("quiet")) or os.environ.get("NEMO_EVALUATOR_QUIET", "") not in ("", "0")


class ProgressDisplay:
    """A rich progress bar when stderr is a terminal and quiet was not asked for."""

    def __init__(self, *, task: str, total: int, completed: int, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task_id: Any = None
        self._desc = task
        self._total = total
        self._completed = completed
        self._errors = 0

    def __enter__(self) -> ProgressDisplay:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} samples/s"),
            TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task_id = self._progress.add_task(
            self._desc, total=self._total, completed=self._completed, rate="-", errors=0
        )
        return self

    def advance(self, *, error: bool) -> None:
        if self._progress is None:
            return
        self._errors += int(error)
        self._progress.advance(self._task_id)
        task = self._progress.tasks[0]
        speed = task.speed
        self._progress.update(
            self._task_id, rate=f"{speed:.1f}" if speed else "-", errors=self._errors
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_summary(result: EvaluationResult, *, output_dir: str) -> None:
    """The metrics with stderr, counts and where the files are, as a table on stderr."""
    from rich.console import Console
    from rich.table import Table

    md = result.metadata
    table = Table(title=f"{md.task} - {md.model_id}", title_justify="left")
    table.add_column("task")
    table.add_column("metric")
    table.add_column("score")
    table.add_column("value", justify="right")
    table.add_column("stderr", justify="right")
    table.add_column("n", justify="right")
    for entry in result.iter_scores():
        se = entry.value.stats.stderr
        table.add_row(
            entry.name,
            entry.metric,
            entry.label,
            f"{entry.value.value:.4f}",
            "-" if se is None else f"{se:.4f}",
            str(entry.value.stats.count),
        )
    console = Console(stderr=True)
    console.print(table)
    console.print(
        f"samples {md.num_samples}  errors {md.num_errors}  cache hits {md.num_cache_hits}  "
        f"time {md.duration_s:.1f} s  ->  {output_dir}",
        highlight=False,
    )
