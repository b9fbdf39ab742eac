"""Write a run's results in lm-evaluation-harness's output layout, for tools built on it.

lm-eval (``--output_path DIR --log_samples``) writes ``DIR/<model>/results_<time>.json`` and
``DIR/<model>/samples_<task>_<time>.jsonl``; dashboards find them with
``lm_eval.utils.get_results_filenames`` / ``get_sample_results_filenames`` and read:

- ``results[task]["<metric>,<filter>"]`` and ``"<metric>_stderr,<filter>"`` (our score name is
  the filter: ``exact_match,strict-match``; a score named like its metric is ``acc,none``),
  ``alias``; the same for ``groups``, with ``group_subtasks``;
- ``n-samples[task] = {"original", "effective"}``, ``n-shot``, ``higher_is_better``,
  ``versions``, ``config`` (``model``, ``model_args``, ``limit``), ``model_name``, ``date``;
- per sample: ``doc_id``, ``target``, ``arguments``, ``resps``, ``filtered_resps``, ``filter``,
  ``metrics`` and each metric's value.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nvidia_eval_commons.api.results import EvaluationResult, MetricResult

from .output import RESULTS_JSON, SAMPLES_JSONL

_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S.%f"  # lm-eval's EvaluationTracker


def _sanitize(name: str) -> str:
    return re.sub(r"[\"<>:/|\\?*\[\]]+", "__", name)


def _flat(metrics: dict[str, MetricResult]) -> tuple[dict[str, Any], list[str]]:
    flat: dict[str, Any] = {}
    names = []
    for metric, result in metrics.items():
        names.append(metric)
        for score, value in result.scores.items():
            fil = "none" if score == metric else score
            flat[f"{metric},{fil}"] = value.value
            se = value.stats.stderr
            flat[f"{metric}_stderr,{fil}"] = "N/A" if se is None else se
    return flat, names


def _arguments(prompt: Any) -> dict[str, Any]:
    if isinstance(prompt, dict) and "context" in prompt:
        return {
            f"gen_args_{i}": {"arg_0": prompt["context"], "arg_1": cont}
            for i, cont in enumerate(prompt.get("continuations") or [])
        }
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)
    return {"gen_args_0": {"arg_0": text, "arg_1": {}}}


def _sample(record: dict[str, Any]) -> dict[str, Any]:
    scores = record.get("score") or {}
    values = {
        (m if s == m else f"{m},{s}"): v for m, by in scores.items() for s, v in (by or {}).items()
    }
    resp = record.get("response")
    resps = resp if isinstance(resp, list) else [[resp]]
    return {
        "doc_id": record.get("doc_id"),
        "doc": {},
        "target": record.get("target"),
        "arguments": _arguments(record.get("prompt")),
        "resps": resps,
        "filtered_resps": resps if isinstance(resp, list) else [record.get("extracted")],
        "filter": "none",
        "metrics": sorted(values),
        **values,
        **({"error": record["error"]} if record.get("error") else {}),
    }


def write_lm_eval(output_dir: Path, dest: Path) -> list[Path]:
    """Convert ``output_dir`` (one run) into lm-eval's layout under ``dest``; returns the files."""
    result = EvaluationResult.model_validate_json(
        (output_dir / RESULTS_JSON).read_text(encoding="utf-8")
    )
    md = result.metadata
    stamp = datetime.now(timezone.utc).strftime(_TIME_FORMAT)
    folder = dest / _sanitize(md.model_id or "model")
    folder.mkdir(parents=True, exist_ok=True)
    params = (md.config.get("config") or {}).get("params") or {}
    doc: dict[str, Any] = {
        "results": {},
        "groups": {},
        "group_subtasks": {},
        "configs": {},
        "versions": {},
        "n-shot": {},
        "higher_is_better": {},
        "n-samples": {},
    }
    for kind, entries in (("results", result.tasks), ("groups", result.groups)):
        for name, entry in entries.items():
            flat, metrics = _flat(entry.metrics)
            doc[kind][name] = {"alias": name, **flat}
            if kind == "results":
                doc["versions"][name] = md.versions.get("nemo-evaluator", "unknown")
                doc["n-shot"][name] = params.get("num_fewshot") or 0
                doc["higher_is_better"][name] = dict.fromkeys(metrics, True)
                count = max(
                    (s.stats.count for m in entry.metrics.values() for s in m.scores.values()),
                    default=0,
                )
                doc["n-samples"][name] = {"original": md.num_samples or count, "effective": count}
                doc["configs"][name] = {"task": name, "num_fewshot": doc["n-shot"][name]}
    for name, group in result.groups.items():
        doc["group_subtasks"][name] = list(group.subtasks)
        doc["results"].setdefault(name, doc["groups"][name])
    doc["config"] = {
        "model": "local-completions"
        if md.endpoint_type == "completions"
        else "local-chat-completions",
        "model_args": f"model={md.model_id},base_url={md.endpoint_url}",
        "limit": params.get("limit_samples"),
        "batch_size": 1,
    }
    doc.update(
        model_name=md.model_id,
        model_name_sanitized=_sanitize(md.model_id or "model"),
        date=datetime.now(timezone.utc).timestamp(),
        start_time=md.started_at,
        end_time=md.finished_at,
        total_evaluation_time_seconds=str(md.duration_s),
        nemo_evaluator={"schema_version": result.schema_version, "source": str(output_dir)},
    )
    results_path = folder / f"results_{stamp}.json"
    results_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written = [results_path]
    samples = output_dir / SAMPLES_JSONL
    if samples.is_file():
        by_task: dict[str, list[str]] = {}
        task = md.task or next(iter(result.tasks), "task")
        # split at "\n" only: a sample's text may hold U+2028 or U+0085 raw (not escaped)
        for line in samples.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            record = json.loads(line)
            name = f"{task}_{record['group']}" if record.get("group") else task
            by_task.setdefault(name, []).append(json.dumps(_sample(record), ensure_ascii=False))
        for name, lines in by_task.items():
            path = folder / f"samples_{_sanitize(name)}_{stamp}.jsonl"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            written.append(path)
    return written


__all__ = ["write_lm_eval"]
