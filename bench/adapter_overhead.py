"""Overhead of the adapter: direct to upstream vs through the proxy vs client mode.

An upstream that answers at once (the stub model server in its own process: the Flask +
waitress one by default, ``--stub-engine asyncio`` for the light one) is called
at concurrency 1, 16 and 64:

* ``direct``     the load generator posts straight to the upstream;
* ``proxy-miss`` through ``nemo-evaluator adapter`` (own process) with request/response
  logging, caching, reasoning stripping and a system message; every request is new (a miss);
* ``proxy-hit``  the same requests again (all cache hits);
* ``client``     the same chain in-process (``AdapterPipeline.send``), all misses.

Prints requests/s and p50/p99 latency, then ours vs the targets side by side::

    uv run python bench/adapter_overhead.py [--requests 2000] [--levels 1,16,64]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import urllib3

from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.adapters.pipeline import AdapterPipeline

CONFIG = {
    "use_caching": True,
    "use_reasoning": True,
    "custom_system_prompt": "You are a helpful assistant.",
    "use_request_logging": True,
    "use_response_logging": True,
}
MAX_PHASE_S = 30.0


def _spawn(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = next(w for w in line.split() if w.startswith("http://127.0.0.1"))
    return proc, url


def _payload(i: int, tag: str) -> dict:
    return {
        "model": "stub-model",
        "messages": [{"role": "user", "content": f"{tag} question {i}"}],
        "max_tokens": 16,
    }


def _run(call: Callable[[int], int], n: int, concurrency: int) -> dict:
    """``n`` calls spread over ``concurrency`` threads; bounded by MAX_PHASE_S."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(n))
    deadline = time.monotonic() + MAX_PHASE_S

    def worker() -> None:
        local: list[float] = []
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            t0 = time.perf_counter()
            status = call(i)
            local.append(time.perf_counter() - t0)
            if status != 200:
                errors[0] += 1
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "n": len(latencies),
        "errors": errors[0],
    }


def _http_caller(pool: urllib3.PoolManager, url: str, tag: str) -> Callable[[int], int]:
    def call(i: int) -> int:
        body = json.dumps(_payload(i, tag)).encode()
        r = pool.request("POST", url, body=body, headers={"Content-Type": "application/json"})
        return r.status

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase and level")
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--proxy-threads", type=int, default=16)
    parser.add_argument(
        "--stub-engine",
        choices=("asyncio", "waitress"),
        default="waitress",
        help="upstream for every mode: the Flask + waitress stub (default) or the light "
        "asyncio one, which leaves more CPU to the load generator so direct is about twice "
        "as fast (a stricter baseline on 2 cores)",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    work = Path(tempfile.mkdtemp(prefix="adapter_bench_"))
    (work / "adapter.json").write_text(json.dumps(CONFIG))
    up_proc, up_url = _spawn(
        ["nemo_evaluator.testing.openai_stub", "--threads", "16", "--engine", args.stub_engine]
    )
    upstream = up_url + "/v1/chat/completions"
    px_proc, px_url = _spawn(
        [
            "nemo_evaluator.cli",
            "adapter",
            "--api-url",
            upstream,
            "--output-dir",
            str(work / "proxy"),
            "--config",
            str(work / "adapter.json"),
            "--threads",
            str(args.proxy_threads),
        ]
    )
    pipeline = AdapterPipeline.from_config(
        AdapterConfig(**CONFIG), upstream_url=upstream, output_dir=work / "client"
    )
    pool = urllib3.PoolManager(maxsize=max(levels), retries=False)
    rows: dict[tuple[str, int], dict] = {}
    try:
        for c in levels:
            n = args.requests if c > 1 else min(args.requests, 500)
            tag = f"c{c}"
            _run(_http_caller(pool, upstream, "warm"), 50, min(c, 8))  # warm connections
            rows["direct", c] = _run(_http_caller(pool, upstream, tag), n, c)
            rows["proxy-miss", c] = _run(
                _http_caller(pool, px_url + "/v1/chat/completions", tag), n, c
            )
            rows["proxy-hit", c] = _run(
                _http_caller(pool, px_url + "/v1/chat/completions", tag), n, c
            )
            rows["client", c] = _run(
                lambda i, t=tag: pipeline.send(_payload(i, "cm" + t)).status_code, n, c
            )
    finally:
        pipeline.close()
        for proc in (px_proc, up_proc):
            proc.terminate()
            proc.wait(timeout=10)

    print(
        f"\nAdapter overhead on {os.cpu_count()} CPUs (upstream: {args.stub_engine} stub, "
        "answers at once)\n"
    )
    print(
        f"{'mode':<11} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs direct':>9} {'errors':>6}"
    )
    for (mode, c), r in rows.items():
        ratio = r["rps"] / rows["direct", c]["rps"]
        print(
            f"{mode:<11} {c:>4} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{ratio:>8.0%} {r['errors']:>6}"
        )
    c1, c64 = min(levels), max(levels)
    added_miss = rows["proxy-miss", c1]["p50_ms"] - rows["direct", c1]["p50_ms"]
    added_hit = rows["proxy-hit", c1]["p50_ms"] - rows["direct", c1]["p50_ms"]
    tp_proxy = rows["proxy-miss", c64]["rps"] / rows["direct", c64]["rps"]
    tp_client = rows["client", c64]["rps"] / rows["direct", c64]["rps"]
    checks = [
        (f"added p50, miss, conc {c1}", f"{added_miss:+.2f} ms", "<= +2.00 ms", added_miss <= 2.0),
        (f"added p50, hit, conc {c1}", f"{added_hit:+.2f} ms", "<= +0.50 ms", added_hit <= 0.5),
        (f"proxy throughput, conc {c64}", f"{tp_proxy:.0%} of direct", ">= 45%", tp_proxy >= 0.45),
        (
            f"client mode throughput, conc {c64}",
            f"{tp_client:.0%} of direct",
            ">= 90%",
            tp_client >= 0.90,
        ),
    ]
    print(f"\n{'check':<34} {'ours':>16} {'target':>12}  met")
    for name, ours, target, ok in checks:
        print(f"{name:<34} {ours:>16} {target:>12}  {'yes' if ok else 'NO'}")
    print("\nTypical proxies of this kind: +5 to 8 ms per request, 15 to 40% of direct throughput.")


if __name__ == "__main__":
    main()
