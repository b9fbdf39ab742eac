"""Throughput of ``lm-eval.gsm8k`` against our native ``gsm8k`` and lm-eval's own
``local-completions``, side by side against one stub upstream with a fixed latency.

    uv run python bench/lm_eval_throughput.py [--latency-s 0.1] [--parallelism 64] [--limit N]

The upstream is the loopback stub (nemo_evaluator.testing, the light asyncio engine, in its own
process) answering every request after ``--latency-s``. Three runs over the same gsm8k test
items (5-shot, the same prompts), one after the other in this one process tree so that machine
load affects all three:

1. ``gsm8k`` (native) through ``evaluate()``, ``params.parallelism=P``;
2. ``lm-eval.gsm8k`` through ``evaluate()``, the same settings;
3. ``lm_eval --model local-completions --model_args ...,num_concurrent=P`` (lm-eval 0.4.13 in
   its own virtualenv, as bench/lm_eval_parity.py builds it) on bench/parity's ``parity_gsm8k``
   (lm-eval's gsm8k YAML with the local data files).

Printed: samples/s of the request phase (ours: ``metadata.extra.timings.inference_s``) and of
the whole run (start-up included: lm-eval's task index and dataset build), with the ratios.
Targets: lm-eval.gsm8k >= 90% of native gsm8k's samples/s; faster than lm-eval's own run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import eval_throughput  # noqa: E402  (bench/eval_throughput.py: the stub in its own process)
import lm_eval_parity  # noqa: E402  (bench/lm_eval_parity.py: lm-eval's virtualenv and inputs)

from nemo_evaluator.core.evaluate import evaluate  # noqa: E402


def ours(task: str, url: str, out: Path, *, parallelism: int, limit: int) -> tuple[float, float]:
    """(request-phase seconds, whole-run seconds) of one evaluate() run."""
    target = {"api_endpoint": {"url": url + "/v1/completions", "model_id": "stub-model"}}
    config = {
        "type": task,
        "output_dir": str(out),
        "params": {"parallelism": parallelism, "limit_samples": limit, "extra": {"quiet": True}},
    }
    start = time.perf_counter()
    result = evaluate(target, config)
    wall = time.perf_counter() - start
    assert result.metadata.num_errors == 0, result.metadata
    assert result.metadata.num_samples == limit, result.metadata.num_samples
    return float(result.metadata.extra["timings"]["inference_s"]), wall


def theirs(url: str, out: Path, *, parallelism: int, limit: int) -> float:
    # uv would apply the workspace's numpy<2 constraint to the venv (pyarrow then fails to load)
    os.environ["UV_NO_CONFIG"] = "1"
    venv = lm_eval_parity.lm_eval_venv()
    lm_eval_parity.link_inputs(venv, lm_eval_parity.data_dir())
    model_args = (
        f"model=stub-model,base_url={url}/v1/completions,num_concurrent={parallelism},"
        "tokenized_requests=False,tokenizer_backend=None,max_retries=3"
    )
    cmd = [str(venv / "bin" / "lm_eval"), "--model", "local-completions"]
    cmd += ["--model_args", model_args, "--include_path", ".", "--tasks", "parity_gsm8k"]
    cmd += ["--limit", str(limit), "--output_path", str(out)]
    start = time.perf_counter()
    with (out.parent / "lm-eval.log").open("w") as log:
        rc = subprocess.run(
            cmd,
            cwd=lm_eval_parity.PARITY,
            env=lm_eval_parity.lm_eval_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    wall = time.perf_counter() - start
    if rc != 0:
        tail = (out.parent / "lm-eval.log").read_text(errors="replace").splitlines()[-10:]
        sys.exit("lm_eval failed:\n" + "\n".join(tail))
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency-s", type=float, default=0.1)
    ap.add_argument("--parallelism", type=int, default=64)
    ap.add_argument("--limit", type=int, default=1319, help="gsm8k test items (all: 1319)")
    ap.add_argument("--skip-lm-eval", action="store_true", help="only the two runs of ours")
    args = ap.parse_args()
    os.environ.setdefault("NEMO_EVALUATOR_DATA_DIR", str(lm_eval_parity.data_dir()))
    p, n = args.parallelism, args.limit
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = stack.enter_context(
            eval_throughput.stub_upstream(latency_s=args.latency_s, threads=p + 8)
        )
        native = ours("gsm8k", url, tmp / "native", parallelism=p, limit=n)
        bridge = ours("lm-eval.gsm8k", url, tmp / "bridge", parallelism=p, limit=n)
        lm_wall = None if args.skip_lm_eval else theirs(url, tmp / "lm", parallelism=p, limit=n)
    ideal = p / args.latency_s
    print(
        f"gsm8k 5-shot, {n} items, stub latency {args.latency_s * 1000:.0f} ms, parallelism {p} "
        f"(ideal {ideal:.0f} samples/s); {os.cpu_count()} cores shared, load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'run':<32}  {'requests s':>10}  {'samples/s':>9}  {'whole run s':>11}  {'samples/s':>9}"
    )
    rows = [("gsm8k (native)", *native), ("lm-eval.gsm8k (ours)", *bridge)]
    for name, phase, wall in rows:
        print(f"{name:<32}  {phase:>10.2f}  {n / phase:>9.1f}  {wall:>11.2f}  {n / wall:>9.1f}")
    if lm_wall is not None:
        print(
            f"{'lm-eval local-completions':<32}  {'-':>10}  {'-':>9}  {lm_wall:>11.2f}  {n / lm_wall:>9.1f}"
        )
    share = native[0] / bridge[0]
    print(
        f"lm-eval.gsm8k / native gsm8k, request phase: {100 * share:.1f}% "
        f"(target >= 90%: {'met' if share >= 0.9 else 'MISSED'}); whole run "
        f"{100 * native[1] / bridge[1]:.1f}% (lm-eval's task index is the difference)"
    )
    if lm_wall is not None:
        print(
            f"lm-eval.gsm8k vs lm-eval local-completions, whole run: {lm_wall / bridge[1]:.2f}x "
            f"faster (target > 1: {'met' if bridge[1] < lm_wall else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
