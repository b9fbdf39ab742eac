"""Throughput of the evaluate core against an upstream that answers after a fixed latency.

    uv run python bench/eval_throughput.py [--latency-s 0.1] [--serial-subset 50]

The upstream is the loopback OpenAI-compatible stub (nemo_evaluator.testing) answering every
request after ``--latency-s``. gsm8k's 1,319 test items run at parallelism 1, 16 and 64
through the full adapter chain (caching and request logging on); samples/s is compared with
the ideal ``parallelism / latency``. Parallelism 1 runs a subset and is extrapolated (it is
latency-bound by construction: 1,319 items would take over two minutes). Then the
parallelism-64 run is repeated into a new output directory sharing its cache: every answer
comes from the cache and the wall time is compared with the first run's.

Targets: >= 80% of ideal at parallelism 64; the cached re-run in <= 5% of the first run's time.
Needs the gsm8k test file: NEMO_EVALUATOR_DATA_DIR (default ../shared/datasets).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from nemo_evaluator.core.evaluate import evaluate
from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    ApiEndpoint,
    EvaluationConfig,
    EvaluationTarget,
)

ROOT = Path(__file__).resolve().parents[1]
CPU_S: dict[str, float] = {}
STUB_PID = [0]


def stub_cpu_s() -> float:
    """CPU seconds the stub process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{STUB_PID[0]}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def stub_upstream(*, latency_s: float, threads: int, engine: str = "asyncio"):
    """The stub in its own process, so its work does not share our interpreter lock.

    ``engine="asyncio"`` is the light fixed-latency server (testing/fast_stub.py): on two cores
    the upstream's CPU is taken from the client being measured, and the Flask + waitress stub
    spends several times more per request.
    """
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "nemo_evaluator.testing.openai_stub", "--port", "0"),
            *("--latency-s", str(latency_s), "--threads", str(threads), "--engine", engine),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"stub upstream did not start: {line!r}")
        STUB_PID[0] = proc.pid
        yield line.split("listening on ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(
    upstream_url: str, out: Path, cache: Path | None, *, parallelism: int, limit: int | None
) -> float:
    target = EvaluationTarget(
        api_endpoint=ApiEndpoint(url=upstream_url + "/v1/completions", model_id="stub-model")
    )
    params: dict = {"parallelism": parallelism, "extra": {"quiet": True}}
    if limit is not None:
        params["limit_samples"] = limit
    config = EvaluationConfig(type="gsm8k", output_dir=str(out), params=params)
    adapter = AdapterConfig(
        use_caching=cache is not None, caching_dir=str(cache) if cache else None
    )
    start = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    stub0 = stub_cpu_s()
    result = evaluate(target, config, adapter)
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    CPU_S[out.name] = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    CPU_S["stub-" + out.name] = stub_cpu_s() - stub0
    assert result.metadata.num_errors == 0, result.metadata
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-s", type=float, default=0.1)
    parser.add_argument("--serial-subset", type=int, default=50)
    parser.add_argument("--parallelism", type=int, nargs="*", default=[1, 16, 64])
    parser.add_argument(
        "--stub-engine",
        choices=("asyncio", "waitress"),
        default="asyncio",
        help="upstream server: the light asyncio one (default) or the Flask + waitress stub",
    )
    args = parser.parse_args()
    os.environ.setdefault("NEMO_EVALUATOR_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    n_total = 1319
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        stub_upstream(
            latency_s=args.latency_s, threads=max(args.parallelism) + 8, engine=args.stub_engine
        ) as upstream,
    ):
        base = Path(tmp)
        walls: dict[int, float] = {}
        for p in args.parallelism:
            limit = args.serial_subset if p == 1 else None
            n = limit or n_total
            wall = run(upstream, base / f"p{p}", base / f"cache{p}", parallelism=p, limit=limit)
            walls[p] = wall
            rate = n / wall
            ideal = p / args.latency_s
            note = f"subset of {n}, extrapolated to 1319: {n_total / rate:.0f} s" if limit else ""
            rows.append((p, n, wall, rate, ideal, note))
        top = max(args.parallelism)
        cached_wall = run(
            upstream, base / "cached", base / f"cache{top}", parallelism=top, limit=None
        )

    print(
        f"gsm8k test ({n_total} items), upstream latency {args.latency_s * 1000:.0f} ms, "
        f"{args.stub_engine} stub"
    )
    print(
        f"{'parallelism':>11}  {'samples':>7}  {'wall s':>7}  {'samples/s':>9}  {'ideal':>7}  {'% ideal':>7}"
    )
    for p, n, wall, rate, ideal, note in rows:
        print(
            f"{p:>11}  {n:>7}  {wall:>7.2f}  {rate:>9.1f}  {ideal:>7.1f}  {100 * rate / ideal:>6.1f}%  {note}"
        )
    first = walls[top]
    ratio = cached_wall / first
    print(
        f"cached re-run at parallelism {top}: {cached_wall:.2f} s vs {first:.2f} s first run "
        f"= {100 * ratio:.1f}% (target <= 5%)"
    )
    if 1 in walls:
        serial = n_total / rows[0][3]
        print(
            f"cached re-run vs the parallelism-1 run (extrapolated {serial:.0f} s): "
            f"{100 * cached_wall / serial:.2f}%"
        )
    p64 = next((r for r in rows if r[0] == top), None)
    if p64 is not None:
        print(f"parallelism {top}: {100 * p64[3] / p64[4]:.1f}% of ideal (target >= 80%)")
        client_ms = 1000 * CPU_S[f"p{top}"] / n_total
        print(
            f"CPU: evaluate core + adapter chain {client_ms:.2f} ms/sample in this process "
            f"(upstream stub runs in its own process); {os.cpu_count()} cores on this machine"
        )
        stub_ms = 1000 * CPU_S[f"stub-p{top}"] / n_total
        print(f"CPU: upstream stub {stub_ms:.2f} ms/request (its own process)")
        print(
            f"CPU of the cached re-run: {CPU_S['cached']:.2f} s "
            f"({1000 * CPU_S['cached'] / n_total:.2f} ms/sample)"
        )


if __name__ == "__main__":
    main()
