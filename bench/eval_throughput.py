"""Throughput of the evaluate core against an upstream that answers after a fixed latency.

    uv run python bench/eval_throughput.py [--runs 1@0.1,16@0.1,64@0.1,256@0.4]

The upstream is the light loopback OpenAI-compatible stub (nemo_evaluator.testing, its own
process) answering every request after a fixed latency. gsm8k's 1,319 test items run through
the full adapter chain (caching and request logging on) at each ``parallelism@latency`` pair;
samples/s is compared with the ideal ``parallelism / latency``. Documents go out in waves, so
no run can beat ``ceil(n / parallelism)`` latencies (the "wave bound": 98% at 64 @ 100 ms, 86%
at 256 @ 400 ms). Parallelism 1 runs a subset and is extrapolated. Then the parallelism-64 run
is repeated into a new output directory sharing its cache: every answer comes from the cache
and the wall time is compared with the first run's. CPU per sample is our process's user +
system time over the whole ``evaluate()`` call divided by the items. "finish s" is what a run
spends after its last answer (the rest of samples.jsonl and report.html, results, intervals):
serial time no parallelism hides.

Targets: >= 85% of ideal at 64 @ 100 ms, >= 80% at 256 @ 400 ms, <= 0.8 ms of CPU per sample,
the cached re-run in <= 10% of the first run's time.
Needs the gsm8k test file: NEMO_EVALUATOR_DATA_DIR (default ../shared/datasets).
"""

from __future__ import annotations

import argparse
import contextlib
import math
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
FINISH_S: dict[str, float] = {}
STUB_PIDS: dict[str, int] = {}


def stub_cpu_s(url: str) -> float:
    """CPU seconds the stub process at ``url`` has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{STUB_PIDS[url]}/stat").read_text().rsplit(")", 1)[1].split()
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
        url = line.split("listening on ", 1)[1].strip()
        STUB_PIDS[url] = proc.pid
        yield url
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
    stub0 = stub_cpu_s(upstream_url)
    result = evaluate(target, config, adapter)
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    CPU_S[out.name] = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    CPU_S["stub-" + out.name] = stub_cpu_s(upstream_url) - stub0
    assert result.metadata.num_errors == 0, result.metadata
    timings = result.metadata.extra["timings"]
    FINISH_S[out.name] = timings["total_s"] - timings["inference_s"]
    return wall


def parse_runs(text: str) -> list[tuple[int, float]]:
    """``"64@0.1,256@0.4"`` -> ``[(64, 0.1), (256, 0.4)]`` (parallelism @ stub latency in s)."""
    runs = []
    for part in text.split(","):
        par, _, lat = part.partition("@")
        runs.append((int(par), float(lat or 0.1)))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs",
        type=parse_runs,
        default=parse_runs("1@0.1,16@0.1,64@0.1,256@0.4"),
        help="parallelism@latency_s pairs; the first parallelism-64 run is re-run cached",
    )
    parser.add_argument("--serial-subset", type=int, default=50)
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
    top = next((p for p, _ in args.runs if p == 64), max(p for p, _ in args.runs))
    top_lat = next(lat for p, lat in args.runs if p == top)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stubs: dict[float, str] = {}
        for lat in sorted({lat for _, lat in args.runs}):
            threads = max(p for p, la in args.runs if la == lat) + 8
            stubs[lat] = stack.enter_context(
                stub_upstream(latency_s=lat, threads=threads, engine=args.stub_engine)
            )
        for p, lat in args.runs:
            limit = args.serial_subset if p == 1 else None
            n = limit or n_total
            name = f"p{p}-{lat}"
            wall = run(stubs[lat], tmp / name, tmp / f"cache-{name}", parallelism=p, limit=limit)
            rate = n / wall
            ideal = p / lat
            # documents go out in waves of `parallelism`: no run can beat ceil(n / p) latencies
            bound = n / (math.ceil(n / p) * lat) / ideal
            note = f"subset of {n}, extrapolated to 1319: {n_total / rate:.0f} s" if limit else ""
            rows.append((p, lat, n, wall, rate, ideal, bound, note, name))
        first_name = f"p{top}-{top_lat}"
        cached_wall = run(
            stubs[top_lat], tmp / "cached", tmp / f"cache-{first_name}", parallelism=top, limit=None
        )

    print(
        f"gsm8k test ({n_total} items), {args.stub_engine} stub; machine: {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'parallelism':>11}  {'latency':>7}  {'samples':>7}  {'wall s':>7}  {'samples/s':>9}  "
        f"{'ideal':>7}  {'% ideal':>7}  {'wave bound':>10}  {'CPU ms/sample':>13}  {'finish s':>8}"
    )
    for p, lat, n, wall, rate, ideal, bound, note, name in rows:
        cpu_ms = 1000 * CPU_S[name] / n
        print(
            f"{p:>11}  {lat * 1000:>5.0f}ms  {n:>7}  {wall:>7.2f}  {rate:>9.1f}  {ideal:>7.1f}  "
            f"{100 * rate / ideal:>6.1f}%  {100 * bound:>9.1f}%  {cpu_ms:>13.2f}  "
            f"{FINISH_S[name]:>8.2f}  {note}"
        )
    targets = {(64, 0.1): 85.0, (256, 0.4): 80.0}
    for p, lat, _n, _wall, rate, ideal, bound, _note, _name in rows:
        if (p, lat) in targets:
            share = 100 * rate / ideal
            want = targets[(p, lat)]
            print(
                f"parallelism {p} at {lat * 1000:.0f} ms: {share:.1f}% of ideal (target >= "
                f"{want:.0f}%: {'met' if share >= want else 'MISSED'}; waves allow "
                f"{100 * bound:.1f}%)"
            )
    first = next(r for r in rows if r[8] == first_name)
    client_ms = 1000 * CPU_S[first_name] / n_total
    print(
        f"CPU per sample in our process at parallelism {top}: {client_ms:.2f} ms (target <= 0.8: "
        f"{'met' if client_ms <= 0.8 else 'MISSED'}); upstream stub "
        f"{1000 * CPU_S['stub-' + first_name] / n_total:.2f} ms/request in its own process"
    )
    ratio = cached_wall / first[3]
    print(
        f"cached re-run at parallelism {top}: {cached_wall:.2f} s vs {first[3]:.2f} s first run "
        f"= {100 * ratio:.1f}% (target <= 10%: {'met' if ratio <= 0.10 else 'MISSED'}); "
        f"CPU {CPU_S['cached']:.2f} s ({1000 * CPU_S['cached'] / n_total:.2f} ms/sample); "
        f"finish {FINISH_S['cached']:.2f} s"
    )


if __name__ == "__main__":
    main()
