"""Per-item scores of finished runs, read from their output directories.

A run directory is a task's output dir (``results.json`` + ``samples.jsonl``) or a
directory whose sub-directories are (``evaluate`` of several benchmarks). Scores are keyed
``metric`` (when the score is named like its metric) or ``metric.score``, as
``EvaluationResult.flat_metrics`` names them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

RESULTS_JSON = "results.json"
SAMPLES_JSONL = "samples.jsonl"


class RunReadError(ConfigError):
    """A directory is not a finished run (or its files are unreadable)."""


@dataclass
class RunItems:
    """One benchmark's per-item scores in one run."""

    benchmark: str
    directory: Path
    metadata: dict[str, Any]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """doc_id -> score key -> value, for items that were scored."""
    groups: dict[str, str] = field(default_factory=dict)
    """doc_id -> group (e.g. the MMLU subject), where the benchmark has groups."""
    doc_ids: list[str] = field(default_factory=list)
    """Every item of the run, scored or failed, in run order."""
    failed: set[str] = field(default_factory=set)

    @property
    def report_html(self) -> Path:
        return self.directory / "report.html"

    def dataset_fingerprint(self) -> dict[str, str]:
        """file name -> sha256 of the dataset files the run read."""
        files = (self.metadata.get("extra") or {}).get("dataset", {}).get("files") or {}
        return {name: str(f.get("sha256")) for name, f in files.items() if f.get("sha256")}


def score_key(metric: str, score: str) -> str:
    return metric if metric == score else f"{metric}.{score}"


def flat_scores(nested: dict[str, dict[str, float]] | None) -> dict[str, float]:
    """``{"exact_match": {"strict-match": 1.0}}`` -> ``{"exact_match.strict-match": 1.0}``."""
    out: dict[str, float] = {}
    for metric, named in (nested or {}).items():
        for score, value in named.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[score_key(metric, score)] = float(value)
    return out


def _task_dirs(path: Path) -> Iterator[Path]:
    if (path / SAMPLES_JSONL).exists():
        yield path
        return
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        if (sub / SAMPLES_JSONL).exists():
            yield sub


def read_task_dir(path: Path) -> RunItems:
    """The items of one task's output directory."""
    try:
        meta = json.loads((path / RESULTS_JSON).read_text(encoding="utf-8")).get("metadata", {})
    except FileNotFoundError:
        raise RunReadError(
            f"{path} has no {RESULTS_JSON}: the run has not finished; finish or resume it first"
        ) from None
    except ValueError as err:
        raise RunReadError(
            f"{path / RESULTS_JSON} is not valid JSON ({err}); rerun the task"
        ) from None
    benchmark = str(meta.get("task") or path.name)
    run = RunItems(benchmark=benchmark, directory=path, metadata=meta)
    with (path / SAMPLES_JSONL).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                sample = json.loads(line)
            except ValueError:
                raise RunReadError(
                    f"{path / SAMPLES_JSONL} line {lineno} is not JSON; rescore the run "
                    "(params.extra.rescore=true) to rewrite it"
                ) from None
            doc_id = str(sample["doc_id"])
            run.doc_ids.append(doc_id)
            if sample.get("error") or not sample.get("score"):
                run.failed.add(doc_id)
                continue
            run.scores[doc_id] = flat_scores(sample["score"])
            if sample.get("group"):
                run.groups[doc_id] = str(sample["group"])
    return run


def read_run(path: str | Path) -> dict[str, RunItems]:
    """benchmark -> items of every finished task under ``path``."""
    root = Path(path)
    if not root.is_dir():
        raise RunReadError(f"{root} is not a directory; give a run's output dir")
    runs: dict[str, RunItems] = {}
    for task_dir in _task_dirs(root):
        items = read_task_dir(task_dir)
        runs[items.benchmark] = items
    if not runs:
        raise RunReadError(f"{root} holds no {SAMPLES_JSONL}: not the output dir of a finished run")
    return runs
