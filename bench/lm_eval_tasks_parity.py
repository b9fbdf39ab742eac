"""Per-item parity of ``lm-eval.<task>`` with the native benchmark and with lm-eval's own
``local-completions``, all three against one real model server.

    uv run python bench/lm_eval_tasks_parity.py [--tasks arc_easy,hellaswag,gsm8k] [--limit 20]
        [--gsm8k-limit 20] [--model-url URL]

Reuses bench/lm_eval_parity.py (the server, lm-eval's virtualenv, its runs of the native
benchmark and of lm-eval on bench/parity's task YAMLs) and adds the third run,
``nemo-evaluator run --type lm-eval.<task>``. Prints, per task: documents compared, prompts
that differ, log-likelihoods that differ by more than 1e-4 (or generations that differ), and
scores that differ, for lm-eval.<task> vs native and lm-eval.<task> vs lm-eval.
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
SUPPORTED = ("arc_easy", "arc_challenge", "hellaswag", "gsm8k")


def ours_vs_ours(task: str, native: list[dict], bridge: list[dict]) -> compare.SampleReport:
    """Native samples against lm-eval.<task> samples, document by document."""
    rep = compare.SampleReport(task=f"{task}: lm-eval.{task} vs native")
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
    return rep


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="arc_easy,hellaswag,gsm8k")
    ap.add_argument("--limit", type=int, default=20, help="docs per log-likelihood task")
    ap.add_argument("--gsm8k-limit", type=int, default=20)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--model-url", default=None)
    args = ap.parse_args()
    args.mmlu_subjects, args.humaneval_max_tokens = [], 256
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
    try:
        for name in names:
            spec = base.TASKS[name]
            limit = args.gsm8k_limit if name == "gsm8k" else args.limit
            bridge_spec = dataclasses.replace(spec, ours=f"lm-eval.{name}")
            dirs = {k: work / f"{k}-{name}" for k in ("native", "bridge", "lm-eval")}
            t0 = base.run_ours(spec, url, dirs["native"], limit, args)
            t1 = base.run_ours(bridge_spec, url, dirs["bridge"], limit, args)
            t2 = base.run_lm_eval(venv, spec, url, dirs["lm-eval"], limit, args)
            print(f"{name}: N={limit} native {t0:.0f}s lm-eval.{name} {t1:.0f}s lm-eval {t2:.0f}s")
            native = compare.read_jsonl(dirs["native"] / "samples.jsonl")
            bridge = compare.read_jsonl(dirs["bridge"] / "samples.jsonl")
            theirs = compare.lm_eval_samples(dirs["lm-eval"], spec.lm_eval)
            reports.append(ours_vs_ours(name, native, bridge))
            label = f"{name}: lm-eval.{name} vs lm-eval local-completions"
            if spec.kind == "loglikelihood":
                rep = compare.compare_loglikelihood(label, bridge, theirs, ["acc", "acc_norm"])
            else:
                keys = {k: ("exact_match", k) for k in ("strict-match", "flexible-extract")}
                rep = compare.compare_generation(label, bridge, theirs, keys)
            reports.append(rep)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    print(compare.format_samples(reports))
    for rep in reports:
        for ex in rep.examples:
            print(f"[{rep.task}] {ex}")
    bad = sum(r.prompt_mismatch + r.response_mismatch + r.score_mismatch for r in reports)
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
