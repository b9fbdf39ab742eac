"""A self-contained report.html: the metrics with charts, and every sample to sort and filter.

No external assets: the style and script (``report_assets/``) are inlined, and the samples are
embedded as JSON inside a ``<script type="application/json">`` block (``<`` escaped so no text
can close the tag). The table pages through any number of samples; a row opens to the sample's
prompt as sent (see :mod:`.report_samples`). The view is kept in the address:
``report.html#f=wrong&sort=-v&page=2``; ``report.html#doc=ID`` shows the one sample ``ID``, opened
(the links of ``nv-eval compare``).

Tasks are shown as a tree: the entries no group contains (``mmlu``) first, the groups and
tasks below them folded; each entry's headline score
(:mod:`nvidia_eval_commons.api.layout`) comes first.
"""

from __future__ import annotations

import html
import io
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, BinaryIO

from nvidia_eval_commons.api.layout import entry_tree, headline_key, named_scores
from nvidia_eval_commons.api.results import EvaluationResult, Score
from nvidia_eval_commons.files import atomic_open

from .. import fast_json
from .report_samples import sample_row

REPORT_HTML = "report.html"
Z95 = 1.959963984540054
"""Normal quantile of the 95 % interval drawn around each score (value ± Z95 · stderr)."""


def _asset(name: str) -> str:
    return files(__package__).joinpath("report_assets").joinpath(name).read_text(encoding="utf-8")


def fmt(value: float | None) -> str:
    """Four decimals at most, no float noise: 0.5, 0.3333, -25.88."""
    if value is None:
        return "-"
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_PREFERRED_INTERVALS = ("clustered", "bootstrap", "analytic")


def interval(score: Score) -> tuple[float, float] | None:
    """The 95 % interval of a score, clipped to [0, 1] for proportions: the recorded
    clustered one where items cluster, else the bootstrap, else the normal approximation."""
    recorded = {iv.method: iv for iv in score.stats.intervals if iv.level == 0.95}
    chosen = next((recorded[m] for m in _PREFERRED_INTERVALS if m in recorded), None)
    se = score.stats.stderr
    if chosen is not None:
        lo, hi = chosen.low, chosen.high
    elif se is None:
        return None
    else:
        lo, hi = score.value - Z95 * se, score.value + Z95 * se
    if 0.0 <= score.value <= 1.0:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return lo, hi


def _scores_of(result: EvaluationResult, name: str) -> dict[str, Score]:
    entry = result.groups.get(name) or result.tasks[name]
    scores = named_scores(entry.metrics)
    key = headline_key(scores)
    if key is None:
        return {}
    return {key: scores[key], **{k: v for k, v in scores.items() if k != key}}


def _metric_rows(result: EvaluationResult, entries: list[tuple[str, int]]) -> Iterator[str]:
    for name, depth in entries:
        for i, (key, score) in enumerate(_scores_of(result, name).items()):
            ci = interval(score)
            cls = ' class="child"' if depth else ""
            label = ("· " * depth + name) if i == 0 else ""
            metric = f"<b>{html.escape(key)}</b>" if i == 0 else html.escape(key)
            yield (
                f"<tr{cls}><td>{html.escape(label)}</td><td>{metric}</td>"
                f"<td class=num>{fmt(score.value)}</td>"
                f"<td class=num>{fmt(score.stats.stderr)}</td>"
                f"<td class=num>{'-' if ci is None else f'[{fmt(ci[0])}, {fmt(ci[1])}]'}</td>"
                f"<td class=num>{score.stats.count}</td></tr>"
            )


_METRIC_HEAD = (
    "<thead><tr><th>task</th><th>score</th><th>value</th><th>stderr</th>"
    "<th>95% interval</th><th>n</th></tr></thead>"
)


def _metrics_section(result: EvaluationResult) -> str:
    tree = entry_tree(result)
    top = [(n, d) for n, d, _ in tree if d == 0]
    parts = [
        f'<div class="wrap"><table id="metrics">{_METRIC_HEAD}<tbody>'
        f"{''.join(_metric_rows(result, top))}</tbody></table></div>"
    ]
    if len(tree) > len(top):
        parts.append(
            f"<details><summary>all {len(tree)} tasks and groups</summary>"
            f'<div class="wrap"><table id="metrics-all">{_METRIC_HEAD}<tbody>'
            f"{''.join(_metric_rows(result, [(n, d) for n, d, _ in tree]))}</tbody></table></div></details>"
        )
    return "".join(parts)


def _chart(key: str, bars: list[tuple[str, Score]]) -> str:
    """Horizontal bars with the 95 % interval as a whisker; axis 0..1 for proportions."""
    label_w, plot_w, row_h, top = 170, 300, 22, 18
    hi_value = max((interval(s) or (s.value, s.value))[1] for _, s in bars)
    lo_value = min((interval(s) or (s.value, s.value))[0] for _, s in bars)
    if lo_value >= 0.0 and hi_value <= 1.0:
        lo_axis, hi_axis = 0.0, 1.0
    else:
        lo_axis, hi_axis = min(lo_value, 0.0), max(hi_value, 0.0) or 1.0
    span = (hi_axis - lo_axis) or 1.0

    def x(v: float) -> float:
        return label_w + plot_w * (v - lo_axis) / span

    height = top + row_h * len(bars) + 6
    width = label_w + plot_w + 190
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(key)} per task">',
        f'<text x="{x(lo_axis):.1f}" y="12" text-anchor="start" fill="#777">{fmt(lo_axis)}</text>',
        f'<text x="{x(hi_axis):.1f}" y="12" text-anchor="end" fill="#777">{fmt(hi_axis)}</text>',
        f'<line x1="{x(0.0):.1f}" x2="{x(0.0):.1f}" y1="{top - 2}" y2="{height - 4}" '
        'stroke="#999"/>',
    ]
    for i, (name, score) in enumerate(bars):
        y = top + i * row_h
        ci = interval(score)
        x0, x1 = sorted((x(0.0), x(score.value)))
        shown = name if len(name) <= 24 else name[:23] + "…"
        text = fmt(score.value) + ("" if ci is None else f" [{fmt(ci[0])}, {fmt(ci[1])}]")
        out.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{html.escape(shown)}'
            f"<title>{html.escape(name)}</title></text>"
            f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1.0):.1f}" height="13" '
            f'fill="#4a78a8"><title>{html.escape(f"{name} {key}: {text}")}</title></rect>'
        )
        if ci is not None:
            a, b, mid = x(ci[0]), x(ci[1]), y + 10.5
            out.append(
                f'<path d="M{a:.1f} {mid}H{b:.1f}M{a:.1f} {mid - 5}V{mid + 5}'
                f'M{b:.1f} {mid - 5}V{mid + 5}" stroke="#222" stroke-width="1.5" fill="none"/>'
            )
        out.append(
            f'<text x="{label_w + plot_w + 6}" y="{y + 14}" fill="#333">{html.escape(text)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _charts_section(result: EvaluationResult) -> str:
    """One chart per score name, over the top entries and their direct members."""
    shown = [n for n, depth, _ in entry_tree(result) if depth <= 1]
    by_key: dict[str, list[tuple[str, Score]]] = {}
    for name in shown:
        for key, score in _scores_of(result, name).items():
            by_key.setdefault(key, []).append((name, score))
    charts = [
        f'<div class="chart"><h3>{html.escape(key)}</h3>{_chart(key, bars)}</div>'
        for key, bars in by_key.items()
    ]
    return f'<div class="charts">{"".join(charts)}</div>' if charts else ""


class ReportWriter:
    """Writes report.html sample by sample: :meth:`add` turns each sample into its table row
    at once (into a temporary file, or ``rows`` when given), :meth:`write` puts the page around
    the rows once the result is known. No list of samples or rows is ever held."""

    def __init__(self, *, rows: BinaryIO | None = None, tmp_dir: Path | None = None) -> None:
        # closed by close(); an anonymous file, gone with the process whatever happens
        self._rows: BinaryIO = (
            rows if rows is not None else tempfile.TemporaryFile(dir=tmp_dir)  # noqa: SIM115
        )
        self.counts = {"correct": 0, "wrong": 0, "error": 0}
        self.total = 0

    def add(self, sample: Mapping[str, Any]) -> None:
        row = sample_row(sample)
        self.counts[row["st"]] += 1
        # JSON.parse reads the rows: NaN as null (a bare NaN would stop the whole page)
        text = fast_json.dumps_strict(row).replace(b"<", b"\\u003c")
        self._rows.write((b", " if self.total else b"") + text)
        self.total += 1

    def write(self, result: EvaluationResult, out: BinaryIO) -> None:
        head, tail = _page(result, counts=self.counts, total=self.total)
        out.write(head.encode("utf-8"))
        out.write(b"[")
        self._rows.seek(0)
        shutil.copyfileobj(self._rows, out, _COPY_BLOCK)
        out.write(b"]")
        out.write(tail.encode("utf-8"))

    def close(self) -> None:
        self._rows.close()

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_COPY_BLOCK = 1 << 20


def _page(result: EvaluationResult, *, counts: dict[str, int], total: int) -> tuple[str, str]:
    """The page before and after the embedded rows."""
    md = result.metadata
    title = f"{md.task} - {md.model_id}"
    meta = (
        f"{md.num_samples} samples, {md.num_errors} errors, {md.num_cache_hits} cache hits, "
        f"{md.duration_s or 0:.1f} s; endpoint {md.endpoint_url} ({md.endpoint_type}); "
        f"finished {md.finished_at}"
    )
    dataset = md.extra.get("dataset") if isinstance(md.extra, dict) else None
    modified = dataset.get("modified_accepted") if isinstance(dataset, dict) else None
    warning = (
        '<div class="meta"><b>Modified dataset:</b> '
        + html.escape(", ".join(modified))
        + " differ from the canonical files (sha256); scored with accept_modified_dataset, "
        "so these scores are not comparable with published ones.</div>"
        if modified
        else ""
    )
    options = "".join(f'<option value="{k}">{k} ({n})</option>' for k, n in counts.items())
    head = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_asset("report.css")}</style></head><body>
<h1>{html.escape(title)}</h1><div class="meta">{html.escape(meta)}</div>{warning}
{_metrics_section(result)}
{_charts_section(result)}
<h2>Samples</h2>
<div id="controls"><input id="q" type="search" placeholder="search prompts, answers, targets"
 aria-label="search"><select id="f" aria-label="filter"><option value="all">all ({total})</option>
{options}</select><span id="count"></span>
<button id="all" type="button" hidden>show all samples</button></div>
<table id="samples"><colgroup><col class="c-doc"><col class="c-st"><col class="c-v"><col>
<col class="c-ans"><col class="c-tgt"></colgroup>
<thead><tr><th data-key="id">doc</th><th data-key="st">result</th><th data-key="v">score</th>
<th data-key="q">question</th><th data-key="ext" class="hide-narrow">answer</th>
<th data-key="tgt" class="hide-narrow">target / error</th></tr></thead><tbody></tbody></table>
<div id="pager"><button id="prev" type="button">previous</button><span id="page-info"></span>
<button id="next" type="button">next</button><select id="page-size" aria-label="rows per page">
<option>25</option><option selected>50</option><option>100</option><option>500</option></select>
rows per page; click a row for the whole sample</div>
<script type="application/json" id="samples-data">"""
    tail = f"""</script>
<script>{_asset("report.js")}</script>
</body></html>
"""
    return head, tail


def render_report(result: EvaluationResult, samples: Iterable[Mapping[str, Any]]) -> str:
    """The whole page as one string (for small runs and tests; runs use :func:`write_report`)."""
    page = io.BytesIO()
    with ReportWriter(rows=io.BytesIO()) as writer:
        for sample in samples:
            writer.add(sample)
        writer.write(result, page)
    return page.getvalue().decode("utf-8")


def write_report(
    result: EvaluationResult, samples: Iterable[Mapping[str, Any]], output_dir: Path
) -> Path:
    """Write ``output_dir/report.html`` from ``samples``, streamed to disk."""
    with ReportWriter(tmp_dir=output_dir) as writer:
        for sample in samples:
            writer.add(sample)
        return finish_report(writer, result, output_dir)


def finish_report(writer: ReportWriter, result: EvaluationResult, output_dir: Path) -> Path:
    """Write ``output_dir/report.html`` around the rows ``writer`` holds (atomically)."""
    path = output_dir / REPORT_HTML
    with atomic_open(path) as out:
        writer.write(result, out)
    return path
