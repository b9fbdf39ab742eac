"""Renderings of a paired comparison: a terminal table, Markdown, and a self-contained HTML
page with one interval chart per metric and the flip lists linked into both runs' reports.

    write_comparison(comparison, "compare_dir")   # comparison.md, .html, .json
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from nemo_evaluator.stats import Comparison, MetricComparison

_FLIPS_SHOWN = 50


def _verdict(m: MetricComparison) -> str:
    if not m.significant:
        return "no significant difference"
    return "B better" if m.difference > 0 else "A better"


def _row(m: MetricComparison) -> list[str]:
    iv = m.interval
    return [
        m.key,
        str(m.items),
        f"{m.mean_a:.4f}",
        f"{m.mean_b:.4f}",
        f"{m.difference:+.4f}",
        f"[{iv.low:+.4f}, {iv.high:+.4f}]",
        f"{m.test} p={m.p_value:.3g}",
        f"{m.mde:.4f}",
        f"{len(m.a_only)}/{len(m.b_only)}",
        _verdict(m),
    ]


HEADERS = ["metric", "items", "A", "B", "B - A", "CI", "test", "MDE", "flips A/B", "verdict"]


def rich_table(c: Comparison) -> Any:
    from rich.table import Table

    level = c.settings.get("level", 0.95)
    table = Table(
        title=f"A = {c.label_a}\nB = {c.label_b}\n({level:.0%} paired bootstrap CI, "
        f"alpha={c.settings.get('alpha')})",
        title_justify="left",
    )
    for h in HEADERS:
        table.add_column(h, overflow="fold")
    for m in c.metrics:
        row = _row(m)
        if m.significant:
            row[-1] = f"[{'green' if m.difference > 0 else 'red'}]{row[-1]}[/]"
        table.add_row(*row)
    return table


def to_markdown(c: Comparison) -> str:
    lines = [
        "# Paired comparison",
        "",
        f"- A: `{c.label_a}`",
        f"- B: `{c.label_b}`",
        f"- {c.settings.get('level', 0.95):.0%} paired bootstrap intervals of B - A "
        f"({c.settings.get('resamples')} resamples, seed {c.settings.get('seed')}); "
        f"alpha {c.settings.get('alpha')}",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    lines += ["| " + " | ".join(_row(m)) + " |" for m in c.metrics]
    for bm, n in c.excluded.items():
        if n:
            lines.append(f"\n{n} item(s) of {bm} failed in a run and are left out.")
    for m in c.metrics:
        if m.a_only or m.b_only:
            lines += ["", f"## Flips of {m.key}", ""]
            lines.append(f"- better in A: {', '.join(m.a_only[:_FLIPS_SHOWN]) or '-'}")
            lines.append(f"- better in B: {', '.join(m.b_only[:_FLIPS_SHOWN]) or '-'}")
    return "\n".join(lines) + "\n"


def _svg(m: MetricComparison, *, width: int = 420) -> str:
    """The difference with its interval on an axis through zero."""
    iv = m.interval
    span = max(abs(iv.low), abs(iv.high), abs(m.difference), m.mde, 1e-6) * 1.2

    def x(v: float) -> float:
        return 10 + (v + span) / (2 * span) * (width - 20)

    color = (
        "#5a9e5a"
        if m.significant and m.difference > 0
        else ("#b8474a" if m.significant else "#777")
    )
    return (
        f'<svg width="{width}" height="44" role="img" aria-label="{html.escape(m.key)} '
        f'difference and interval"><line x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="40" '
        f'stroke="#bbb" stroke-dasharray="3"/><line x1="{x(iv.low):.1f}" y1="22" '
        f'x2="{x(iv.high):.1f}" y2="22" stroke="{color}" stroke-width="3"/>'
        f'<line x1="{x(iv.low):.1f}" y1="15" x2="{x(iv.low):.1f}" y2="29" stroke="{color}"/>'
        f'<line x1="{x(iv.high):.1f}" y1="15" x2="{x(iv.high):.1f}" y2="29" stroke="{color}"/>'
        f'<circle cx="{x(m.difference):.1f}" cy="22" r="5" fill="{color}"/>'
        f'<text x="{x(0):.1f}" y="12" font-size="10" text-anchor="middle">0</text>'
        f'<text x="{width - 10}" y="40" font-size="10" text-anchor="end">+{span:.3f}</text>'
        f'<text x="10" y="40" font-size="10">-{span:.3f}</text></svg>'
    )


def _links(ids: list[str], reports: tuple[Path, Path], out_dir: Path) -> str:
    """Each doc id with links to its row in A's and in B's report.html."""
    if not ids:
        return "-"
    hrefs = [os.path.relpath(r, out_dir) if r.exists() else None for r in reports]
    parts = []
    for d in ids[:_FLIPS_SHOWN]:
        anchors = "".join(
            f' <a href="{html.escape(h)}#doc={html.escape(d, quote=True)}">{side}</a>'
            for side, h in zip("AB", hrefs, strict=True)
            if h
        )
        parts.append(f"<li><code>{html.escape(d)}</code>{anchors}</li>")
    more = f"<li>and {len(ids) - _FLIPS_SHOWN} more</li>" if len(ids) > _FLIPS_SHOWN else ""
    return f"<ul class='flips'>{''.join(parts)}{more}</ul>"


def to_html(c: Comparison, *, out_dir: Path) -> str:
    rows, sections = [], []
    for m in c.metrics:
        cells = "".join(f"<td>{html.escape(v)}</td>" for v in _row(m))
        rows.append(f"<tr>{cells}</tr>")
        reports = c.reports.get(m.benchmark, (Path("-"), Path("-")))
        sections.append(
            f"<section><h2>{html.escape(m.key)}</h2>{_svg(m)}"
            f"<p>B - A = {m.difference:+.4f}, {m.interval.level:.0%} CI "
            f"[{m.interval.low:+.4f}, {m.interval.high:+.4f}], {m.test} p = {m.p_value:.3g}, "
            f"MDE {m.mde:.4f} over {m.items} items: {html.escape(_verdict(m))}</p>"
            f"<h3>Better in A ({len(m.a_only)})</h3>{_links(m.a_only, reports, out_dir)}"
            f"<h3>Better in B ({len(m.b_only)})</h3>{_links(m.b_only, reports, out_dir)}"
            "</section>"
        )
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Paired comparison</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
        "font-size:13px}section{margin-top:1.5em}ul.flips{columns:4;font-size:13px}</style></head><body>"
        f"<h1>Paired comparison</h1><p>A = <code>{html.escape(c.label_a)}</code><br>"
        f"B = <code>{html.escape(c.label_b)}</code></p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{''.join(sections)}</body></html>\n"
    )


def write_comparison(c: Comparison, directory: str | Path) -> dict[str, Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out / "comparison.md",
        "html": out / "comparison.html",
        "json": out / "comparison.json",
    }
    paths["markdown"].write_text(to_markdown(c), encoding="utf-8")
    paths["html"].write_text(to_html(c, out_dir=out.resolve()), encoding="utf-8")
    paths["json"].write_text(json.dumps(c.as_dict(), indent=2) + "\n", encoding="utf-8")
    return paths
