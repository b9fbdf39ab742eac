"""A local stand-in for the ``code_eval`` metric that lm-eval's HumanEval task loads with
``evaluate.load("code_eval")``.

That call fetches the metric script from the Hugging Face hub, which this machine cannot
reach. ``evaluate.load`` first looks for ``code_eval/code_eval.py`` relative to the working
directory, so running lm-eval from ``bench/parity`` picks up this file instead. It keeps the
metric's interface and semantics: ``compute(predictions=[[candidate, ...]], references=[test],
k=[1])`` runs ``candidate + "\\n" + test`` for every candidate (3 s limit, like the original's
default ``timeout``), refuses to run unless ``HF_ALLOW_CODE_EVAL=1``, and returns
``({"pass@k": mean unbiased estimate}, per-problem results)``. Written here (not copied)
because the original is not installable from a package registry; each program runs in its own
``python -I`` subprocess and temporary directory, which is the containment this benchmark
script needs for the model's completions.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile

import datasets
import evaluate

TIMEOUT_S = 3.0


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of Chen et al. (2021) for ``c`` passing out of ``n`` samples."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def run_program(program: str, timeout: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", program],
                cwd=tmp,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "timed out"
    return "passed" if proc.returncode == 0 else f"failed: exit {proc.returncode}"


class CodeEval(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="pass@k of programs checked by their tests (local code_eval)",
            citation="",
            inputs_description="predictions: list of candidate lists; references: test code",
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Value("string"),
                }
            ),
        )

    def _compute(self, predictions, references, k=(1,), num_workers=1, timeout=TIMEOUT_S):
        if os.environ.get("HF_ALLOW_CODE_EVAL") != "1":
            raise ValueError("code_eval runs model-written code: set HF_ALLOW_CODE_EVAL=1")
        ks = [k] if isinstance(k, int) else list(k)
        results = []
        estimates: dict[str, list[float]] = {f"pass@{kk}": [] for kk in ks}
        for candidates, test in zip(predictions, references, strict=True):
            outcomes = [run_program(c + "\n" + test, timeout) for c in candidates]
            passed = sum(o == "passed" for o in outcomes)
            results.append(outcomes)
            for kk in ks:
                if kk <= len(candidates):
                    estimates[f"pass@{kk}"].append(pass_at_k(len(candidates), passed, kk))
        means = {name: sum(v) / len(v) for name, v in estimates.items() if v}
        return means, results
