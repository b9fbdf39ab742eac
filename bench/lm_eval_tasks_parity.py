"""Per-item parity of ``lm-eval.<task>`` with the native benchmark and with lm-eval's own
``local-completions``, all three against one real model server.

    uv run python bench/lm_eval_tasks_parity.py [--tasks arc_easy,hellaswag,mmlu,gsm8k]
        [--limit 20] [--mmlu-subjects S1,S2,...] [--gsm8k-limit 20] [--model-url URL]

Reuses bench/lm_eval_parity.py (the server, lm-eval's virtualenv, its runs of the native
benchmark and of lm-eval on bench/parity's task YAMLs) and adds the third run,
``nemo-evaluator run --type lm-eval.<task>``. MMLU: the native ``mmlu`` with
``params.extra.subjects``, ``lm-eval.mmlu_<subject>`` (the leaf tasks the ``lm-eval.mmlu``
group runs) and lm-eval's ``mmlu_<subject>`` YAMLs, ``--limit`` documents per subject.

Prints, per task and pair (lm-eval.<task> vs native, lm-eval.<task> vs lm-eval): documents
compared, prompts that differ, per-choice log-likelihoods that differ by more than 1e-4 (or
generations that differ in any character), extracted answers that differ (gsm8k: each filter)
and per-document scores that differ. Exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import lm_eval_parity as base  # noqa: E402

compare = base.compare
compare.LL_TOLERANCE = 1e-4  # the claim checked here is 1e-4 per choice
SUPPORTED = ("arc_easy", "arc_challenge", "hellaswag", "mmlu", "gsm8k")
MMLU_SUBJECTS = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "college_biology",
    "high_school_geography",
    "marketing",
    "nutrition",
    "philosophy",
    "virology",
    "world_religions",
)
GSM8K_FILTERS = ("strict-match", "flexible-extract")


def by_index(rows: list[dict]) -> list[dict]:
    """Samples in document order (``<task>/<index>`` or lm-eval's integer ``doc_id``)."""
    return sorted(rows, key=lambda r: int(str(r["doc_id"]).rsplit("/", 1)[-1]))


def exact_generations(rep: compare.SampleReport, bridge: list[dict], theirs: list[dict]) -> int:
    """Character-exact generations and equal extracted answers (lm-eval's ``filtered_resps``
    per filter) of lm-eval.gsm8k against lm-eval; returns the documents whose answers differ.
    A generation differing only in surrounding whitespace counts as a response difference."""
    rows: dict[int, dict[str, dict]] = {}
    for row in theirs:
        rows.setdefault(int(row["doc_id"]), {})[row["filter"]] = row
    differ = 0
    for mine in bridge:
        index = int(str(mine["doc_id"]).rsplit("/", 1)[-1])
        other = rows.get(index, {})
        first = next(iter(other.values()), None)
        text = first["resps"][0][0] if first else None
        if (
            text is not None
            and text != mine.get("response")
            and text.strip() == str(mine.get("response")).strip()
        ):
            rep.response_mismatch += 1
            rep.note(f"doc {index}: generation differs in whitespace")
        ours = mine.get("extracted") or {}
        theirs_x = {k: other[k]["filtered_resps"][0] if k in other else None for k in GSM8K_FILTERS}
        if {k: ours.get(k) for k in GSM8K_FILTERS} != theirs_x:
            differ += 1
            rep.note(f"doc {index}: extracted ours {ours!r} lm-eval {theirs_x!r}")
    return differ


def ours_vs_ours(
    task: str, native: list[dict], bridge: list[dict], extracted: dict[str, int]
) -> compare.SampleReport:
    """Native samples against lm-eval.<task> samples, document by document."""
    rep = compare.SampleReport(task=f"{task}: lm-eval.{task} vs native")
    if len(native) != len(bridge):
        rep.note(f"{len(native)} native documents, {len(bridge)} lm-eval.{task} documents")
        rep.response_mismatch += abs(len(native) - len(bridge))
    for a, b in zip(native, bridge, strict=False):
        rep.compared += 1
        if a.get("prompt") != b.get("prompt"):
            rep.prompt_mismatch += 1
            rep.note(f"doc {a['doc_id']}: prompt differs")
        ra, rb = a.get("response"), b.get("response")
        if isinstance(ra, list) and isinstance(rb, list):
            same = len(ra) == len(rb) and all(
                math.isclose(float(x[0]), float(y[0]), abs_tol=1e-4)
                for x, y in zip(ra, rb, strict=True)
            )
        else:
            same = ra == rb
        if not same:
            rep.response_mismatch += 1
            rep.note(f"doc {a['doc_id']}: response differs: {ra!r} vs {rb!r}"[:300])
        if a.get("score") != b.get("score"):
            rep.score_mismatch += 1
            rep.note(f"doc {a['doc_id']}: score {a.get('score')} vs {b.get('score')}")
        if isinstance(ra, str):
            extracted.setdefault(rep.task, 0)
        if isinstance(ra, str) and a.get("extracted") != b.get("extracted"):
            extracted[rep.task] += 1
            rep.note(f"doc {a['doc_id']}: extracted {a.get('extracted')} vs {b.get('extracted')}")
    return rep


def table(reports: list[compare.SampleReport], extracted: dict[str, int]) -> str:
    lines = [
        "| task | docs compared | prompt differs | log-likelihood > 1e-4 or generation differs "
        "| extracted answer differs | score differs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        x = extracted.get(r.task)
        lines.append(
            f"| {r.task} | {r.compared} | {r.prompt_mismatch} | {r.response_mismatch} "
            f"| {'-' if x is None else x} | {r.score_mismatch} |"
        )
    return "\n".join(lines)


def compare_pairs(
    name: str,
    spec: base.TaskSpec,
    native: list[dict],
    bridge: list[dict],
    theirs: list[dict],
    extracted: dict[str, int],
) -> list[compare.SampleReport]:
    """lm-eval.<name> vs native and vs lm-eval's local-completions."""
    reports = [ours_vs_ours(name, native, bridge, extracted)]
    label = f"{name}: lm-eval.{name} vs lm-eval local-completions"
    if spec.kind == "loglikelihood":
        metrics = ["acc"] if name.startswith("mmlu") else ["acc", "acc_norm"]
        rep = compare.compare_loglikelihood(label, bridge, theirs, metrics)
    else:
        keys = {k: ("exact_match", k) for k in GSM8K_FILTERS}
        rep = compare.compare_generation(label, bridge, theirs, keys)
        extracted[label] = exact_generations(rep, bridge, theirs)
    if len(bridge) != len({int(r["doc_id"]) for r in theirs}):
        rep.response_mismatch += abs(len(bridge) - len({int(r["doc_id"]) for r in theirs}))
        rep.note(f"{len(bridge)} lm-eval.{name} documents, lm-eval {len(theirs)} rows")
    reports.append(rep)
    return reports


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="arc_easy,hellaswag,mmlu,gsm8k")
    ap.add_argument("--limit", type=int, default=20, help="docs per task (MMLU: per subject)")
    ap.add_argument("--mmlu-subjects", default=",".join(MMLU_SUBJECTS))
    ap.add_argument("--gsm8k-limit", type=int, default=20)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--model-url", default=None)
    args = ap.parse_args()
    args.mmlu_subjects = [x for x in args.mmlu_subjects.split(",") if x]
    args.humaneval_max_tokens = 256
    names = [t for t in args.tasks.split(",") if t]
    if bad := [t for t in names if t not in SUPPORTED]:
        sys.exit(f"unsupported tasks {bad}; choose from {', '.join(SUPPORTED)}")
    os.environ["UV_NO_CONFIG"] = "1"  # keep the workspace's numpy<2 constraint out of the venv
    venv = base.lm_eval_venv()
    base.link_inputs(venv, base.data_dir())
    work = base.cache_dir() / "tasks-runs" / time.strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    server, url = (None, args.model_url)
    if url is None:
        server, url = base.start_server(work / "server.log")
    reports: list[compare.SampleReport] = []
    extracted: dict[str, int] = {}
    try:
        for name in names:
            spec = base.TASKS[name]
            limit = args.gsm8k_limit if name == "gsm8k" else args.limit
            bridge_type = f"lm-eval.{name}"
            if name == "mmlu":
                bridge_type = ",".join(f"lm-eval.mmlu_{s}" for s in args.mmlu_subjects)
            bridge_spec = dataclasses.replace(spec, ours=bridge_type)
            dirs = {k: work / f"{k}-{name}" for k in ("native", "bridge", "lm-eval")}
            t0 = base.run_ours(spec, url, dirs["native"], limit, args)
            t1 = base.run_ours(bridge_spec, url, dirs["bridge"], limit, args)
            t2 = base.run_lm_eval(venv, spec, url, dirs["lm-eval"], limit, args)
            print(
                f"{name}: N={limit}{' per subject' if name == 'mmlu' else ''} native {t0:.0f}s "
                f"lm-eval.{name} {t1:.0f}s lm-eval {t2:.0f}s",
                flush=True,
            )
            native = by_index(compare.read_jsonl(dirs["native"] / "samples.jsonl"))
            if name != "mmlu":
                bridge = by_index(compare.read_jsonl(dirs["bridge"] / "samples.jsonl"))
                theirs = compare.lm_eval_samples(dirs["lm-eval"], spec.lm_eval)
                reports += compare_pairs(name, spec, native, bridge, theirs, extracted)
                continue
            for subject in args.mmlu_subjects:
                task = f"mmlu_{subject}"
                sub = [r for r in native if str(r["doc_id"]).startswith(f"{subject}/")]
                path = dirs["bridge"] / f"lm-eval.{task}" / "samples.jsonl"
                bridge = by_index(compare.read_jsonl(path))
                theirs = compare.lm_eval_samples(dirs["lm-eval"], f"parity_{task}")
                reports += compare_pairs(task, spec, sub, bridge, theirs, extracted)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    print(table(reports, extracted))
    for rep in reports:
        for ex in rep.examples:
            print(f"[{rep.task}] {ex}")
    bad = sum(r.prompt_mismatch + r.response_mismatch + r.score_mismatch for r in reports)
    bad += sum(extracted.values()) + sum(r.compared == 0 for r in reports)
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
