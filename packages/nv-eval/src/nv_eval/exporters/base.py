"""The exporter interface and the results one job hands to it.

An exporter reads finished results and copies them somewhere; it never moves or rewrites
them, so a failing exporter cannot lose anything. ``run_exporters`` runs several, catching
each one's error into an ``ExportOutcome``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from nvidia_eval_commons.api.results import EvaluationResult

from ..errors import ExporterError

RESULT_FILES = ("results.yml", "results.json", "samples.jsonl", "report.html", "run_config.json")


@dataclass(frozen=True)
class ExportItem:
    """One finished job: its ids, task, output directory and parsed result."""

    invocation_id: str
    job_id: str
    task: str
    output_dir: Path
    result: EvaluationResult
    config: dict[str, Any] = field(default_factory=dict)
    """The invocation's resolved config (secrets masked)."""
    executor: str = ""

    @classmethod
    def from_dir(
        cls, *, job_id: str, task: str, output_dir: Path, config: dict[str, Any], executor: str
    ) -> ExportItem:
        path = output_dir / "results.yml"
        if not path.is_file():
            raise ExporterError(f"no results.yml in {output_dir}: job {job_id} has no results yet")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(
            invocation_id=job_id.split(".")[0],
            job_id=job_id,
            task=task,
            output_dir=output_dir,
            result=EvaluationResult.model_validate(data),
            config=config,
            executor=executor,
        )

    def digest(self) -> str:
        """sha256 of the job's results file: the same digest means the same results."""
        import hashlib

        for name in ("results.json", "results.yml"):
            path = self.output_dir / name
            if path.is_file():
                return hashlib.sha256(path.read_bytes()).hexdigest()
        return ""

    def artifacts(self) -> list[Path]:
        return [self.output_dir / n for n in RESULT_FILES if (self.output_dir / n).is_file()]

    def params(self) -> dict[str, Any]:
        """Flat run parameters: task, model, endpoint and the evaluation params."""
        endpoint = self.config.get("target", {}).get("api_endpoint", {})
        params: dict[str, Any] = {
            "task": self.task,
            "model_id": endpoint.get("model_id") or self.result.metadata.model_id,
            "endpoint_url": endpoint.get("url"),
            "executor": self.executor,
        }
        for key, value in (self.config.get("config", {}).get("params") or {}).items():
            if value is not None and not isinstance(value, dict):
                params[key] = value
        return {k: v for k, v in params.items() if v is not None}

    def stderrs(self) -> dict[str, float]:
        """``{flat metric key: stderr}`` where a stderr is known."""
        return {
            e.key: e.value.stats.stderr
            for e in self.result.iter_scores()
            if e.value.stats.stderr is not None
        }


@dataclass(frozen=True)
class ExportOutcome:
    exporter: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.exporter}: {'ok' if self.ok else 'FAILED'} - {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {"exporter": self.exporter, "ok": self.ok, "detail": self.detail}


class Exporter(ABC):
    """Copies finished results to one destination."""

    name: ClassVar[str]

    def __init__(self, *, options: dict[str, Any], invocation_dir: Path, fmt: str = "json") -> None:
        self.options = dict(options)
        self.invocation_dir = invocation_dir
        self.fmt = fmt

    @abstractmethod
    def export(self, items: list[ExportItem]) -> str:
        """Export ``items``; return where they went (one line)."""


__all__ = ["RESULT_FILES", "ExportItem", "ExportOutcome", "Exporter"]
