"""Prompt parity without a model: the requests our benchmarks build for the first N documents
against the ones lm-eval builds (``dump_prompts.py`` in lm-eval's virtualenv).

Covers what a scored run on a few documents cannot: few-shot sampling over many documents
(gsm8k's sequential ``Random(1234)`` draws), every MMLU subject header, HellaSwag's
preprocessing over the whole export.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

from nemo_evaluator.benchmarks.base import GenerationRequest, LoglikelihoodRequest
from nemo_evaluator.benchmarks.registry import get_benchmark
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

PARITY = Path(__file__).resolve().parent


def ours_requests(
    task: str, limit: int, data_dir: Path, extra: dict[str, Any] | None = None
) -> list[list[tuple[str, str]]]:
    """Per document in order: (context, continuation or joined stop list) of each request."""
    params = ConfigParams(limit_samples=limit, extra=extra or {})
    bench = get_benchmark(task)(params=params, data_dir=data_dir)
    docs = bench.limit_docs(bench.load_docs(), limit)
    out: list[list[tuple[str, str]]] = []
    for doc in docs:
        reqs = []
        for r in bench.build_requests(doc):
            if isinstance(r, LoglikelihoodRequest):
                reqs.append((r.context, r.continuation))
            elif isinstance(r, GenerationRequest):
                reqs.append((r.prompt or "", "|".join(r.stop)))
        out.append(reqs)
    return out


def lm_eval_requests(
    python: Path, task: str, limit: int, env: dict[str, str]
) -> list[list[tuple[str, str]]]:
    proc = subprocess.run(
        [str(python), "dump_prompts.py", task, str(limit)],
        cwd=PARITY,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dump_prompts.py {task} failed:\n{proc.stderr[-2000:]}")
    by_doc: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for line in filter(None, proc.stdout.split("\n")):  # JSON may hold U+2028 raw
        row = json.loads(line)
        second = row.get("continuation")
        if second is None:
            second = "|".join(row["until"])
        by_doc[int(row["doc_id"])].append((row["context"], second))
    return [by_doc[i] for i in sorted(by_doc)]


def compare_prompts(
    name: str, ours: list[list[tuple[str, str]]], theirs: list[list[tuple[str, str]]]
) -> tuple[int, int, list[str]]:
    """(docs compared, docs whose requests differ, up to 3 examples)."""
    differ, examples = 0, []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            differ += 1
            if len(examples) < 3:
                j = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)
                examples.append(
                    f"[{name}] doc {i} request {j}:\n  ours:    {_tail(a, j)}\n"
                    f"  lm-eval: {_tail(b, j)}"
                )
    if len(ours) != len(theirs):
        examples.append(f"[{name}] ours has {len(ours)} docs, lm-eval {len(theirs)}")
        differ += abs(len(ours) - len(theirs))
    return min(len(ours), len(theirs)), differ, examples


def _tail(reqs: list[tuple[str, str]], j: int) -> str:
    if j >= len(reqs):
        return "(missing)"
    ctx, second = reqs[j]
    return repr(ctx[-240:]) + " / " + repr(second)
