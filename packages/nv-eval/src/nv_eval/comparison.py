"""Comparison reports: a table of models by benchmarks, with standard errors.

The same table three ways: in the terminal (rich), as Markdown, and as a self-contained HTML
page with an inline SVG bar chart (no scripts, fonts or images fetched from anywhere).

    report = generate_comparison_report({"model-a": {"gsm8k": result_a}, "model-b": {...}})
    print(report.to_markdown()); report.write("report_dir")
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nvidia_eval_commons.api.results import EvaluationResult

# The score shown for a task when a result holds several; the first one present wins.
PRIMARY_SCORES: tuple[str, ...] = (
    "exact_match.strict-match",
    "exact_match.flexible-extract",
    "acc_norm",
    "acc",
    "pass@1",
)
_PALETTE = ("#3b6ea5", "#e07b39", "#5a9e5a", "#b8474a", "#7f63b8", "#8c6d4f", "#d17ab3")


@dataclass(frozen=True)
class Cell:
    value: float
    stderr: float | None
    count: int | None


@dataclass
class ComparisonReport:
    """Models (rows) by columns (``task.metric[.score]``) of values with stderr."""

    models: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)

    def cell(self, model: str, column: str) -> Cell | None:
        return self.cells.get((model, column))

    def best(self, column: str) -> str | None:
        present = [(c.value, m) for m in self.models if (c := self.cell(m, column))]
        return max(present)[1] if present else None

    # -- renderings ---------------------------------------------------------------------------
    @staticmethod
    def _fmt(cell: Cell | None) -> str:
        if cell is None:
            return "-"
        if cell.stderr is None:
            return f"{cell.value:.4f}"
        return f"{cell.value:.4f} ± {cell.stderr:.4f}"

    def to_markdown(self) -> str:
        head = "| model | " + " | ".join(self.columns) + " |"
        rule = "|---|" + "---:|" * len(self.columns)
        rows = []
        for model in self.models:
            parts = []
            for col in self.columns:
                text = self._fmt(self.cell(model, col))
                if self.best(col) == model and len(self.models) > 1:
                    text = f"**{text}**"
                parts.append(text)
            rows.append(f"| {model} | " + " | ".join(parts) + " |")
        return "\n".join([head, rule, *rows]) + "\n"

    def to_rich_table(self) -> Any:
        from rich.table import Table

        table = Table(title="Comparison (value ± stderr)")
        table.add_column("model", style="bold")
        for col in self.columns:
            table.add_column(col, justify="right")
        for model in self.models:
            row = []
            for col in self.columns:
                text = self._fmt(self.cell(model, col))
                if self.best(col) == model and len(self.models) > 1:
                    text = f"[green]{text}[/green]"
                row.append(text)
            table.add_row(model, *row)
        return table

    def print(self, console: Any = None) -> None:
        from rich.console import Console

        (console or Console()).print(self.to_rich_table())

    def _svg_chart(self) -> str:
        bar_w, gap, group_gap, height, top, left = 22, 3, 28, 260, 20, 44
        n_models = max(len(self.models), 1)
        longest = max((len(c) for c in self.columns), default=0)
        # groups are wide enough for a horizontal label (about 7 px a character at 11 px)
        group_w = max(n_models * (bar_w + gap) + group_gap, 7 * longest + 16)
        width = left + group_w * max(len(self.columns), 1) + 20
        label_h = 30
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{top + height + label_h}" role="img" aria-label="bar chart">'
        ]
        for tick in range(0, 11, 2):
            y = top + height - height * tick / 10
            parts.append(
                f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                f"{tick / 10:.1f}</text>"
            )
        for ci, col in enumerate(self.columns):
            x0 = left + ci * group_w + (group_w - n_models * (bar_w + gap)) / 2
            for mi, model in enumerate(self.models):
                cell = self.cell(model, col)
                if cell is None:
                    continue
                value = min(max(cell.value, 0.0), 1.0)
                x = x0 + mi * (bar_w + gap)
                h = height * value
                color = _PALETTE[mi % len(_PALETTE)]
                title = html.escape(f"{model} · {col}: {self._fmt(cell)}")
                parts.append(
                    f'<rect x="{x:.1f}" y="{top + height - h:.1f}" width="{bar_w}" '
                    f'height="{h:.1f}" fill="{color}"><title>{title}</title></rect>'
                )
                if cell.stderr:
                    lo = top + height - height * min(value + cell.stderr, 1.0)
                    hi = top + height - height * max(value - cell.stderr, 0.0)
                    cx = x + bar_w / 2
                    parts.append(
                        f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{lo:.1f}" y2="{hi:.1f}" '
                        'stroke="#222" stroke-width="1.5"/>'
                    )
            lx = x0 + (n_models * (bar_w + gap)) / 2
            ly = top + height + 16
            parts.append(
                f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="11" text-anchor="middle">'
                f"{html.escape(col)}</text>"
            )
        parts.append("</svg>")
        return "".join(parts)

    def to_html(self, *, title: str = "Model comparison") -> str:
        legend = "".join(
            f'<span class="key"><i style="background:{_PALETTE[i % len(_PALETTE)]}"></i>'
            f"{html.escape(m)}</span>"
            for i, m in enumerate(self.models)
        )
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for model in self.models:
            tds = []
            for col in self.columns:
                cls = ' class="best"' if self.best(col) == model and len(self.models) > 1 else ""
                tds.append(f"<td{cls}>{html.escape(self._fmt(self.cell(model, col)))}</td>")
            body.append(f"<tr><th>{html.escape(model)}</th>{''.join(tds)}</tr>")
        style = (
            "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
            "table{border-collapse:collapse;margin:1rem 0}"
            "td,th{border:1px solid #ccc;padding:.35rem .6rem;text-align:right}"
            "thead th{background:#f3f3f3}tbody th{text-align:left}"
            "td.best{font-weight:bold;background:#eef7ee}"
            ".key{margin-right:1.2rem}.key i{display:inline-block;width:.9rem;height:.9rem;"
            "margin-right:.3rem;vertical-align:middle}"
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>"
            "<p>Values with their standard error (±); the best value per column is bold. "
            "Error bars in the chart span one standard error.</p>"
            f"<div>{legend}</div>{self._svg_chart()}"
            f"<table><thead><tr><th>model</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></body></html>\n"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "columns": self.columns,
            "cells": [
                {"model": m, "column": c, "value": v.value, "stderr": v.stderr, "count": v.count}
                for (m, c), v in self.cells.items()
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


def _scores(result: EvaluationResult, *, all_scores: bool) -> dict[str, Cell]:
    found: dict[str, Cell] = {}
    for kind in (result.tasks, result.groups):
        for task, entry in kind.items():
            per_task: dict[str, Cell] = {}
            for metric, mres in entry.metrics.items():
                for score, s in mres.scores.items():
                    key = metric if score == metric else f"{metric}.{score}"
                    per_task[key] = Cell(s.value, s.stats.stderr, s.stats.count)
            if all_scores:
                found.update({f"{task}.{k}": v for k, v in per_task.items()})
                continue
            primary = next((k for k in PRIMARY_SCORES if k in per_task), None)
            if primary is None and per_task:
                primary = sorted(per_task)[0]
            if primary is not None:
                found[f"{task}.{primary}"] = per_task[primary]
    return found


def generate_comparison_report(
    results: Mapping[str, Any], *, all_scores: bool = False
) -> ComparisonReport:
    """Build a comparison from ``{model: {benchmark: result}}`` or ``{model: result}``.

    A result is an ``EvaluationResult``, its dict form, or a path to ``results.json`` /
    ``results.yml`` (or a directory holding one). With ``all_scores`` every metric is a
    column; otherwise one primary score per task (see ``PRIMARY_SCORES``).
    """
    report = ComparisonReport(models=list(results), columns=[])
    for model, per_model in results.items():
        items = (
            per_model.values()
            if isinstance(per_model, Mapping) and not _looks_like_result(per_model)
            else [per_model]
        )
        for item in items:
            for column, cell in _scores(_as_result(item), all_scores=all_scores).items():
                if column not in report.columns:
                    report.columns.append(column)
                report.cells[(model, column)] = cell
    return report


def _looks_like_result(value: Mapping[str, Any]) -> bool:
    return "tasks" in value and isinstance(value.get("tasks"), Mapping)
