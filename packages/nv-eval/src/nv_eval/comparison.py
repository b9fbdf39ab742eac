"""Comparison reports: benchmarks (rows) by models (columns), with standard errors.

The same table three ways: in the terminal (rich), as Markdown, and as a self-contained HTML
page with an inline SVG bar chart (no scripts, fonts or images fetched from anywhere).

- One row per benchmark: its headline score (``nvidia_eval_commons.api.layout``), first.
  Groups and their members (MMLU's categories and subjects) are folded into their parent;
  ``all_scores=True`` lists every score of every task and group, members indented.
- Models are columns, so a few models fit in 80 terminal columns; when the values with their
  standard errors do not fit, the error goes on a second line of the cell.
- The best value of a row is marked (bold); models whose values are equal at the shown
  precision are all marked: a tie is a tie. A best value significantly above every other
  (z-test on the standard errors, alpha 0.05) also gets ``▲``: only then is the difference
  more than noise.

    report = generate_comparison_report({"model-a": {"gsm8k": result_a}, "model-b": {...}})
    print(report.to_markdown()); report.write("report_dir")
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_evaluator.stats.intervals import z_value
from nvidia_eval_commons.api.layout import entry_tree, headline_key, named_scores
from nvidia_eval_commons.api.results import EvaluationResult

from .comparison_html import comparison_html

_DIGITS = 4
SIGNIFICANCE_ALPHA = 0.05
SIGNIFICANT_MARK = "▲"


@dataclass(frozen=True)
class Cell:
    value: float
    stderr: float | None
    count: int | None


@dataclass
class ComparisonReport:
    """Rows (``task.metric[.score]``) by models of values with stderr.

    ``depth`` gives each row's indentation (0: a benchmark, 1: its group or subtask, ...);
    ``folded`` counts, per row, the member rows left out (shown with ``all_scores``).
    """

    models: list[str]
    rows: list[str]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)
    folded: dict[str, int] = field(default_factory=dict)

    def cell(self, model: str, row: str) -> Cell | None:
        return self.cells.get((model, row))

    def best(self, row: str) -> list[str]:
        """The models with the highest value of ``row`` at the shown precision (ties: all)."""
        present = {m: round(c.value, _DIGITS) for m in self.models if (c := self.cell(m, row))}
        if len(present) < 2:
            return []
        top = max(present.values())
        return [m for m, v in present.items() if v == top]

    def significant_best(self, row: str) -> str | None:
        """The one model whose value of ``row`` is significantly above every other model's
        (two-sided z-test on the standard errors at ``SIGNIFICANCE_ALPHA``), else ``None``.
        Unpaired, so conservative for runs on the same items: ``nv-eval compare`` pairs them."""
        best = self.best(row)
        if len(best) != 1:
            return None
        top = self.cell(best[0], row)
        others = [c for m in self.models if m != best[0] and (c := self.cell(m, row))]
        if top is None or top.stderr is None or any(c.stderr is None for c in others):
            return None
        z = z_value(1.0 - SIGNIFICANCE_ALPHA)
        for c in others:
            se = math.hypot(top.stderr, c.stderr or 0.0)
            if se == 0.0 or (top.value - c.value) / se <= z:
                return None
        return best[0]

    def text(self, model: str, row: str, *, stacked: bool = False) -> str:
        """A cell as shown: value ± stderr, and ``SIGNIFICANT_MARK`` on a significant best."""
        mark = f" {SIGNIFICANT_MARK}" if self.significant_best(row) == model else ""
        return self.fmt(self.cell(model, row), stacked=stacked) + mark

    # -- renderings ---------------------------------------------------------------------------
    @staticmethod
    def fmt(cell: Cell | None, *, stacked: bool = False) -> str:
        if cell is None:
            return "-"
        if cell.stderr is None:
            return f"{cell.value:.4f}"
        return f"{cell.value:.4f}{chr(10) if stacked else ' '}± {cell.stderr:.4f}"

    def label(self, row: str) -> str:
        folded = self.folded.get(row, 0)
        return "  " * self.depth.get(row, 0) + row + (f" (+{folded} folded)" if folded else "")

    def to_markdown(self) -> str:
        head = "| benchmark | " + " | ".join(self.models) + " |"
        rule = "|---|" + "---:|" * len(self.models)
        lines = [head, rule]
        for row in self.rows:
            best = self.best(row)
            parts = []
            for model in self.models:
                text = self.text(model, row)
                parts.append(f"**{text}**" if model in best else text)
            label = self.label(row).replace("  ", "&nbsp;&nbsp;")
            lines.append(f"| {label} | " + " | ".join(parts) + " |")
        return "\n".join(lines) + "\n"

    def _width(self, *, stacked: bool) -> int:
        """Terminal columns the models-as-columns table needs."""
        label_w = min(max((len(self.label(r)) for r in self.rows), default=9), 40)
        values = [
            max(len(part) for part in self.fmt(c, stacked=stacked).split("\n"))
            for c in self.cells.values()
        ]
        # rich draws a border and one space of padding either side of every column
        return label_w + 4 + sum(max([len(m), *values, 1]) + 3 for m in self.models)

    def to_rich_table(self, *, width: int = 80) -> Any:
        """Models as columns (the error below the value when that is what fits), or, when
        even that is too wide, one line per benchmark and model."""
        from rich.table import Table

        title = f"Comparison (value ± stderr; best in bold; {SIGNIFICANT_MARK} significantly best)"
        if self._width(stacked=False) > width and self._width(stacked=True) > width:
            table = Table(title=title, title_justify="left")
            table.add_column("benchmark", overflow="fold")
            table.add_column("model", overflow="fold")
            table.add_column("value ± stderr", justify="right", no_wrap=True)
            for row in self.rows:
                best = self.best(row)
                for i, model in enumerate(self.models):
                    text = self.text(model, row)
                    shown = f"[bold green]{text}[/]" if model in best else text
                    table.add_row(self.label(row) if i == 0 else "", model, shown)
            return table
        stacked = self._width(stacked=False) > width
        table = Table(title=title, title_justify="left")
        table.add_column("benchmark", overflow="fold", max_width=40)
        for model in self.models:
            table.add_column(model, justify="right", overflow="fold")
        for row in self.rows:
            best = self.best(row)
            cells = []
            for model in self.models:
                text = self.text(model, row, stacked=stacked)
                cells.append(f"[bold green]{text}[/]" if model in best else text)
            table.add_row(self.label(row), *cells)
        return table

    def print(self, console: Any = None) -> None:
        from rich.console import Console

        console = console or Console()
        console.print(self.to_rich_table(width=console.width))

    def to_html(self, *, title: str = "Model comparison") -> str:
        return comparison_html(self, title=title)

    def to_json(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "rows": [
                {
                    "benchmark": r,
                    "depth": self.depth.get(r, 0),
                    "folded": self.folded.get(r, 0),
                    "best": self.best(r),
                    "significantly_best": self.significant_best(r),
                }
                for r in self.rows
            ],
            "cells": [
                {"model": m, "benchmark": r, "value": v.value, "stderr": v.stderr, "count": v.count}
                for (m, r), v in self.cells.items()
            ],
        }

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``comparison.md``, ``comparison.html`` and ``comparison.json``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "markdown": out / "comparison.md",
            "html": out / "comparison.html",
            "json": out / "comparison.json",
        }
        paths["markdown"].write_text(self.to_markdown(), encoding="utf-8")
        paths["html"].write_text(self.to_html(), encoding="utf-8")
        paths["json"].write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        return paths


def _as_result(value: Any) -> EvaluationResult:
    if isinstance(value, EvaluationResult):
        return value
    if isinstance(value, (str, Path)):
        return load_result(value)
    if isinstance(value, Mapping):
        return EvaluationResult.model_validate(dict(value))
    raise TypeError(f"cannot read a result from {type(value).__name__}")


def load_result(path: str | Path) -> EvaluationResult:
    """An EvaluationResult from ``results.json``/``results.yml`` or a directory holding one."""
    p = Path(path)
    if p.is_dir():
        for name in ("results.json", "results.yml", "results.yaml"):
            if (p / name).exists():
                p = p / name
                break
        else:
            raise FileNotFoundError(f"no results.json or results.yml in {path}")
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".json":
        return EvaluationResult.model_validate_json(text)
    import yaml

    return EvaluationResult.model_validate(yaml.safe_load(text))


def _rows(result: EvaluationResult, *, all_scores: bool) -> list[tuple[str, int, int, Cell]]:
    """``(row, depth, folded members, cell)``: headline scores first."""
    rows = []
    for name, depth, below in entry_tree(result):
        if depth and not all_scores:
            continue
        entry = result.groups.get(name) or result.tasks[name]
        scores = named_scores(entry.metrics)
        key = headline_key(scores)
        if key is None:
            continue
        keys = [key, *(k for k in scores if k != key)] if all_scores else [key]
        for k in keys:
            s = scores[k]
            cell = Cell(s.value, s.stats.stderr, s.stats.count)
            rows.append((f"{name}.{k}", depth, 0 if all_scores else below, cell))
    return rows


def generate_comparison_report(
    results: Mapping[str, Any], *, all_scores: bool = False
) -> ComparisonReport:
    """Build a comparison from ``{model: {benchmark: result}}`` or ``{model: result}``.

    A result is an ``EvaluationResult``, its dict form, or a path to ``results.json`` /
    ``results.yml`` (or a directory holding one). By default one row per benchmark (its
    headline score, members folded); with ``all_scores`` every score of every task and group.
    """
    report = ComparisonReport(models=list(results), rows=[])
    for model, per_model in results.items():
        items = (
            per_model.values()
            if isinstance(per_model, Mapping) and not _looks_like_result(per_model)
            else [per_model]
        )
        for item in items:
            for row, depth, folded, cell in _rows(_as_result(item), all_scores=all_scores):
                if row not in report.rows:
                    report.rows.append(row)
                report.depth[row] = depth
                report.folded[row] = max(report.folded.get(row, 0), folded)
                report.cells[(model, row)] = cell
    return report


def _looks_like_result(value: Mapping[str, Any]) -> bool:
    return "tasks" in value and isinstance(value.get("tasks"), Mapping)


__all__ = ["Cell", "ComparisonReport", "generate_comparison_report", "load_result"]
