"""Peak memory of the evaluate core against the item count: the full MMLU test set and parts.

    uv run python bench/eval_memory.py [--fractions 0.07,0.3,1] [--parallelism 64]

Each size runs in a fresh process (peak RSS is per process: ``ru_maxrss``) that evaluates
``mmlu`` (0-shot, four log-likelihood requests per item, batched into one completions call)
on a fraction of its 14,042 test items (``limit_samples`` as a fraction: the first items of
every subject, as lm-eval's ``--limit``) against the light loopback stub (its own process, answering at
once), with caching on. The process also reports its RSS after the imports, before
``evaluate()``; the growth per 1,000 items shows whether memory stays flat with the item count.
Needs the MMLU files: NEMO_EVALUATOR_DATA_DIR (default ../shared/datasets).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(url: str, fraction: float, parallelism: int, out: str) -> None:
    from nemo_evaluator.core.evaluate import evaluate
    from nvidia_eval_commons.api.api_dataclasses import (
        AdapterConfig,
        ApiEndpoint,
        EvaluationConfig,
        EvaluationTarget,
    )

    before = rss_mb()
    start = time.perf_counter()
    result = evaluate(
        EvaluationTarget(
            api_endpoint=ApiEndpoint(url=url + "/v1/completions", model_id="stub-model")
        ),
        EvaluationConfig(
            type="mmlu",
            output_dir=out,
            params={
                "parallelism": parallelism,
                "limit_samples": fraction if fraction < 1 else None,
                "extra": {"quiet": True},
            },
        ),
        AdapterConfig(use_caching=True, caching_dir=out + "/cache"),
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    md = result.metadata
    n = md.num_samples
    if md.num_errors:
        lines = Path(out, "samples.jsonl").read_text().splitlines()
        first = next((json.loads(x)["error"] for x in lines if '"error": null' not in x), None)
        sys.exit(f"{md.num_errors} of {md.num_samples} samples failed; first error: {first}")
    print(json.dumps({"n": n, "before_mb": before, "peak_mb": peak, "wall_s": wall}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fractions", default="0.07,0.3,1")
    parser.add_argument("--parallelism", type=int, default=64)
    parser.add_argument(
        "--child", nargs=3, metavar=("URL", "FRACTION", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    os.environ.setdefault("NEMO_EVALUATOR_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    if args.child:
        url, fraction, out = args.child
        child(url, float(fraction), args.parallelism, out)
        return
    from eval_throughput import stub_upstream

    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        stub_upstream(latency_s=0.0, threads=args.parallelism + 8) as url,
    ):
        for n in args.fractions.split(","):
            proc = subprocess.run(
                [
                    *(sys.executable, __file__, "--parallelism", str(args.parallelism)),
                    *("--child", url, str(n), str(Path(tmp) / f"n{n}")),
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                sys.exit(f"the run on {n} of the items failed:\n{proc.stderr[-3000:]}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"mmlu test, 0-shot, parallelism {args.parallelism}, fresh process per size")
    print(
        f"{'items':>7}  {'RSS before MB':>13}  {'peak RSS MB':>11}  {'growth MB':>9}  {'wall s':>7}"
    )
    for r in rows:
        growth = r["peak_mb"] - r["before_mb"]
        print(
            f"{r['n']:>7}  {r['before_mb']:>13.1f}  {r['peak_mb']:>11.1f}  {growth:>9.1f}  "
            f"{r['wall_s']:>7.1f}"
        )
    first, last = rows[0], rows[-1]
    if last["n"] > first["n"]:
        slope = (last["peak_mb"] - first["peak_mb"]) / (last["n"] - first["n"]) * 1000
        print(
            f"peak RSS grows {slope:.2f} MB per 1,000 items from {first['n']} to {last['n']} "
            f"items ({last['peak_mb']:.0f} MB at {last['n']})"
        )


if __name__ == "__main__":
    main()
