"""How much of a batching server's work is padding, by the order documents are sent in.

    uv run python bench/padding.py [--tasks mmlu,arc_easy,hellaswag] [--limit 200] [--batch 8]

Builds each task's log-likelihood requests as ``nemo-evaluator run`` does (MMLU: the four
subjects of bench/loglik_vs_lm_eval.py), tokenizes them with the default model's tokenizer
and sends them, as :mod:`nemo_evaluator.core.dispatch_order` orders them, through a model of
``nemo-eval deploy``'s scoring: each batch holds ``--batch`` consecutive documents, each
document is one row of its choices' shared prefix plus one row per choice for the tokens
after it (none when every continuation is one token, as in MMLU), and each of the two passes
is padded to its longest row. Prints the padding share and the tokens computed per window
size: 0 is the dataset's order, ``all`` sorts the whole set (lm-eval's order in-process).
No server is started; nothing is timed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from transformers import AutoTokenizer

from nemo_eval.default_model import default_model_dir
from nemo_evaluator.benchmarks.base import LoglikelihoodRequest
from nemo_evaluator.benchmarks.registry import get_benchmark
from nemo_evaluator.core.dispatch_order import dispatch_order
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

ROOT = Path(__file__).resolve().parents[1]
MMLU_SUBJECTS = ["abstract_algebra", "high_school_geography", "philosophy", "virology"]


def rows_of(tok, reqs: list[LoglikelihoodRequest]) -> tuple[int, list[int]]:
    """Tokens of the shared-prefix row and of each choice's row after it."""
    ids = [tok(r.context + r.continuation).input_ids for r in reqs]
    shared = min(len(i) for i in ids)
    for k in range(shared):
        if len({i[k] for i in ids}) > 1:
            shared = k
            break
    shared = max(1, min(shared, min(len(i) for i in ids) - 1))
    rest = [len(i) - shared for i in ids]
    return shared, [] if all(n <= 1 for n in rest) else rest


def padding(batches: list[list[tuple[int, list[int]]]]) -> tuple[float, int]:
    total = real = 0
    for batch in batches:
        prefixes = [p for p, _ in batch]
        rests = [n for _, r in batch for n in r]
        total += max(prefixes) * len(prefixes) + (max(rests) * len(rests) if rests else 0)
        real += sum(prefixes) + sum(rests)
    return (total - real) / total, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="mmlu,arc_easy,hellaswag")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--windows", default="0,64,128,256,all")
    args = ap.parse_args()
    os.environ.setdefault("NEMO_EVALUATOR_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    tok = AutoTokenizer.from_pretrained(str(default_model_dir()))
    print("| task | window | padding | tokens computed | vs dataset order |")
    print("|---|---:|---:|---:|---:|")
    for task in args.tasks.split(","):
        extra = {"subjects": MMLU_SUBJECTS} if task == "mmlu" else {}
        bench = get_benchmark(task)(params=ConfigParams(limit_samples=args.limit, extra=extra))
        docs = bench.limit_docs(bench.load_docs(), args.limit)
        rows = {d["doc_id"]: rows_of(tok, bench.build_requests(d)) for d in docs}
        base = None
        for w in args.windows.split(","):
            window = len(docs) if w == "all" else int(w)
            order = [d["doc_id"] for d, _ in dispatch_order(bench, docs, window)]
            if window == 0:
                order = [d["doc_id"] for d in docs]
            batches = [
                [rows[i] for i in order[k : k + args.batch]]
                for k in range(0, len(order), args.batch)
            ]
            share, total = padding(batches)
            base = base or total
            print(f"| {task} | {w} | {100 * share:.1f}% | {total} | {total / base:.3f} |")


if __name__ == "__main__":
    main()
