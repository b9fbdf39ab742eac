"""The HTML page of a comparison report: a bar chart and the table, no scripts or fetches."""

from __future__ import annotations

import html
from typing import Any, Protocol


class ComparisonReport(Protocol):
    """What the page needs of a ``nv_eval.comparison.ComparisonReport``."""

    models: list[str]
    rows: list[str]
    depth: dict[str, int]

    def cell(self, model: str, row: str) -> Any: ...

    def best(self, row: str) -> list[str]: ...

    def text(self, model: str, row: str, *, stacked: bool = False) -> str: ...

    def fmt(self, cell: Any, *, stacked: bool = False) -> str: ...

    def label(self, row: str) -> str: ...


PALETTE = ("#3b6ea5", "#e07b39", "#5a9e5a", "#b8474a", "#7f63b8", "#8c6d4f", "#d17ab3")

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}"
    "td,th{border:1px solid #ccc;padding:.35rem .6rem;text-align:right}"
    "thead th{background:#f3f3f3}th:first-child{text-align:left}tbody th{font-weight:normal}"
    "tbody th.d0{font-weight:600}td.best{font-weight:bold;background:#eef7ee}"
    ".key{margin-right:1.2rem}.key i{display:inline-block;width:.9rem;height:.9rem;"
    "margin-right:.3rem;vertical-align:middle}.wrap{overflow-x:auto}"
    "svg{max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif}"
)


def _svg_chart(report: ComparisonReport) -> str:
    """One group of bars per top-level row (a bar per model), error bars of one stderr."""
    rows = [r for r in report.rows if report.depth.get(r, 0) == 0]
    bar_w, gap, group_gap, height, top, left = 22, 3, 28, 220, 20, 44
    n_models = max(len(report.models), 1)
    longest = max((len(r) for r in rows), default=0)
    group_w = max(n_models * (bar_w + gap) + group_gap, 7 * longest + 16)
    width = left + group_w * max(len(rows), 1) + 20
    full_h = top + height + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{full_h}" '
        f'viewBox="0 0 {width} {full_h}" role="img" aria-label="bar chart">'
    ]
    for tick in range(0, 11, 2):
        y = top + height - height * tick / 10
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick / 10:.1f}</text>'
        )
    for ri, row in enumerate(rows):
        x0 = left + ri * group_w + (group_w - n_models * (bar_w + gap)) / 2
        for mi, model in enumerate(report.models):
            cell = report.cell(model, row)
            if cell is None:
                continue
            value = min(max(cell.value, 0.0), 1.0)
            x = x0 + mi * (bar_w + gap)
            h = height * value
            title = html.escape(f"{model} · {row}: {report.fmt(cell)}")
            parts.append(
                f'<rect x="{x:.1f}" y="{top + height - h:.1f}" width="{bar_w}" '
                f'height="{h:.1f}" fill="{PALETTE[mi % len(PALETTE)]}"><title>{title}</title></rect>'
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
        parts.append(
            f'<text x="{lx:.1f}" y="{top + height + 16:.1f}" text-anchor="middle">'
            f"{html.escape(row)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def comparison_html(report: ComparisonReport, *, title: str) -> str:
    legend = "".join(
        f'<span class="key"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>'
        f"{html.escape(m)}</span>"
        for i, m in enumerate(report.models)
    )
    head = "".join(f"<th>{html.escape(m)}</th>" for m in report.models)
    body = []
    for row in report.rows:
        best = report.best(row)
        tds = []
        for model in report.models:
            cls = ' class="best"' if model in best else ""
            tds.append(f"<td{cls}>{html.escape(report.text(model, row))}</td>")
        depth = report.depth.get(row, 0)
        label = html.escape(report.label(row).strip())
        pad = f' style="padding-left:{0.6 + 1.2 * depth:.1f}rem"' if depth else ""
        body.append(f'<tr><th class="d{depth}"{pad}>{label}</th>{"".join(tds)}</tr>')
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<p>Each benchmark's headline score with its standard error (±); the best value of a "
        "row is bold, and equal values are all bold; ▲ marks a best value significantly above "
        "every other (z-test on the standard errors, alpha 0.05; `nv-eval compare` gives "
        "the paired test). Error bars in the chart span one "
        "standard error.</p>"
        f"<div>{legend}</div><div class='wrap'>{_svg_chart(report)}</div>"
        f"<div class='wrap'><table><thead><tr><th>benchmark</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div></body></html>\n"
    )


__all__ = ["PALETTE", "comparison_html"]
