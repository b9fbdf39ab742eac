"""A self-contained report.html: the metrics, and every sample with filter and search.
``report.html#doc=ID`` shows the one sample ``ID`` (the links of ``nv-eval compare``).

No external assets: styles and script are inline, and the samples are embedded as JSON inside a
``<script type="application/json">`` block (``<`` escaped so no text can close the tag).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from nvidia_eval_commons.api.results import EvaluationResult

REPORT_HTML = "report.html"

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:20px;margin:0 0 4px}.meta{color:#666;margin-bottom:12px}
table{border-collapse:collapse;margin-bottom:16px}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
#controls{margin:12px 0;display:flex;gap:8px;align-items:center}
#controls input{flex:1;max-width:480px;padding:4px 8px}
.ok{background:#e8f6e8}.bad{background:#fbeaea}.err{background:#fff4d6}
pre{white-space:pre-wrap;margin:0;max-height:220px;overflow:auto;font-size:12px}
#samples td:first-child{white-space:nowrap}
"""

_SCRIPT = """
const data = JSON.parse(document.getElementById('samples-data').textContent);
const body = document.querySelector('#samples tbody');
const q = document.getElementById('q'), f = document.getElementById('f');
const count = document.getElementById('count');
function cls(s){ if (s.error) return 'err'; return s.correct ? 'ok' : 'bad'; }
function cell(text){ const td=document.createElement('td'); const p=document.createElement('pre');
  p.textContent = text; td.appendChild(p); return td; }
function linked(){ const m = location.hash.match(/^#doc=(.*)$/); return m ? decodeURIComponent(m[1]) : null; }
function render(){
  const needle = q.value.toLowerCase(), want = f.value, only = linked(); body.textContent=''; let n=0;
  for (const s of data){
    const k = cls(s);
    if (only !== null && String(s.doc_id) !== only) continue;
    if (want!=='all' && want!==k) continue;
    if (needle) {
      if (s.search === undefined)
        s.search = [s.doc_id, s.prompt, s.response, s.extracted, s.target, s.error || ''].join(' ').toLowerCase();
      if (!s.search.includes(needle)) continue;
    }
    if (++n > 2000) continue;
    const tr = document.createElement('tr'); tr.className = k;
    for (const v of [s.doc_id, s.prompt, s.response, s.extracted, s.target, s.score, s.error||''])
      tr.appendChild(cell(v));
    body.appendChild(tr);
  }
  count.textContent = n + ' of ' + data.length + ' samples' + (n>2000 ? ' (first 2000 shown)' : '');
}
q.addEventListener('input', render); f.addEventListener('change', render);
window.addEventListener('hashchange', render); render();
"""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1)


def _primary(metrics: dict[str, dict[str, float]]) -> float | None:
    for named in metrics.values():
        for value in named.values():
            return float(value)
    return None


def render_report(result: EvaluationResult, samples: list[dict[str, Any]]) -> str:
    md = result.metadata
    rows = []
    for kind in (result.tasks, result.groups):
        for name, entry in kind.items():
            for metric, mres in entry.metrics.items():
                for score_name, score in mres.scores.items():
                    se = score.stats.stderr
                    rows.append(
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=num>{:.4f}</td>"
                        "<td class=num>{}</td><td class=num>{}</td></tr>".format(
                            html.escape(name),
                            html.escape(metric),
                            html.escape("" if score_name == metric else score_name),
                            score.value,
                            "-" if se is None else f"{se:.4f}",
                            score.stats.count,
                        )
                    )
    view = []
    for s in samples:
        primary = _primary(s.get("score") or {})
        row = {
            "doc_id": s["doc_id"],
            "prompt": _text(s.get("prompt")),
            "response": _text(s.get("response")),
            "extracted": _text(s.get("extracted")),
            "target": _text(s.get("target")),
            "score": "\n".join(
                f"{name}: {value:g}"
                for named in (s.get("score") or {}).values()
                for name, value in named.items()
            ),
            "error": s.get("error"),
            "correct": bool(primary) if primary is not None else False,
        }
        view.append(row)
    # ASCII escapes are faster to encode (see output.write_samples) and JSON.parse reads them
    payload = json.dumps(view).replace("<", "\\u003c")
    title = f"{md.task} - {md.model_id}"
    meta = (
        f"{md.num_samples} samples, {md.num_errors} errors, {md.num_cache_hits} cache hits, "
        f"{md.duration_s or 0:.1f} s; endpoint {md.endpoint_url} ({md.endpoint_type}); "
        f"finished {md.finished_at}"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1><div class="meta">{html.escape(meta)}</div>
<table><thead><tr><th>task</th><th>metric</th><th>score</th><th>value</th><th>stderr</th>
<th>n</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<div id="controls"><input id="q" type="search" placeholder="search prompts, answers, targets">
<select id="f"><option value="all">all</option><option value="ok">correct</option>
<option value="bad">wrong</option><option value="err">errors</option></select>
<span id="count"></span></div>
<table id="samples"><thead><tr><th>doc</th><th>prompt</th><th>response</th><th>extracted</th>
<th>target</th><th>score</th><th>error</th></tr></thead><tbody></tbody></table>
<script type="application/json" id="samples-data">{payload}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


def write_report(result: EvaluationResult, samples: list[dict[str, Any]], output_dir: Path) -> Path:
    path = output_dir / REPORT_HTML
    path.write_text(render_report(result, samples), encoding="utf-8")
    return path
