"""Generated tokens/s at concurrency 1 and 8 for each serving backend, and start-up time.

Targets: embedded at concurrency 8 >= 2.5x its concurrency-1 tokens/s; pytriton and ray within
20% of embedded at concurrency 8. Traffic goes only to 127.0.0.1; every loop is bounded.
Each backend runs ``--repeats`` rounds of a c=1 and a c=8 measurement and reports medians, with
the load average, because other jobs on a shared machine move single figures a lot.

    uv run python bench/deploy_throughput.py --backends embedded,pytriton,ray
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from nemo_eval.api import deploy

PROMPTS = [
    f"Once upon a time there was a {w} who"
    for w in ("cat", "dog", "robot", "tree", "river", "city", "ship", "star")
]


def _one(url: str, prompt: str, max_tokens: int) -> int:
    resp = requests.post(
        f"{url}/v1/completions",
        json={"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stop": []},
        timeout=600,
    )
    resp.raise_for_status()
    return int(resp.json()["usage"]["completion_tokens"])


def tokens_per_second(url: str, *, concurrency: int, requests_total: int, max_tokens: int) -> float:
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(requests_total)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        tokens = sum(pool.map(lambda p: _one(url, p, max_tokens), prompts))
    return tokens / (time.perf_counter() - start)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def measure(url: str, *, repeats: int, requests_total: int, max_tokens: int) -> tuple[float, float]:
    """Median tokens/s at concurrency 1 and 8, the two measured back to back in each round.

    Other jobs on the machine shift both figures, so each round pairs a c=1 and a c=8 run and
    the medians over rounds are reported.
    """
    c1s, c8s = [], []
    for _ in range(repeats):
        c1s.append(
            tokens_per_second(
                url,
                concurrency=1,
                requests_total=max(1, requests_total // 4),
                max_tokens=max_tokens,
            )
        )
        c8s.append(
            tokens_per_second(
                url, concurrency=8, requests_total=requests_total, max_tokens=max_tokens
            )
        )
    ratios = sorted(b / max(a, 1e-9) for a, b in zip(c1s, c8s, strict=True))
    print(
        f"  rounds c=1 {[round(x, 1) for x in c1s]}  c=8 {[round(x, 1) for x in c8s]}  "
        f"c8/c1 {[round(x, 2) for x in ratios]}  load {_load()}",
        flush=True,
    )
    return statistics.median(c1s), statistics.median(c8s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="embedded,pytriton,ray")
    parser.add_argument("--requests", type=int, default=16, help="requests per c=8 measurement")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of c=1 + c=8 per backend")
    args = parser.parse_args()
    print(f"load average before: {_load()} ({os.cpu_count()} cores)", flush=True)
    rows: dict[str, tuple[float, float, float]] = {}
    for backend in args.backends.split(","):
        t0 = time.perf_counter()
        with deploy(
            serving_backend=backend, server_port=0, max_batch_size=8, start_timeout=600
        ) as handle:
            startup = time.perf_counter() - t0
            _one(handle.url, "Warm up.", 4)
            c1, c8 = measure(
                handle.url,
                repeats=args.repeats,
                requests_total=args.requests,
                max_tokens=args.max_tokens,
            )
        rows[backend] = (startup, c1, c8)
        print(
            f"{backend:9s} start {startup:6.1f} s   c=1 {c1:7.1f} tok/s   c=8 {c8:7.1f} tok/s   "
            f"c8/c1 {c8 / max(c1, 1e-9):4.2f}x   (medians)",
            flush=True,
        )
    if "embedded" in rows:
        _, c1, c8 = rows["embedded"]
        ratio = c8 / max(c1, 1e-9)
        print(
            f"embedded c8/c1 = {ratio:.2f}x   (target >= 2.50x: {'OK' if ratio >= 2.5 else 'MISSED'})"
        )
        for name in ("pytriton", "ray"):
            if name in rows:
                rel = rows[name][2] / c8
                print(
                    f"{name} c8 / embedded c8 = {rel:.2f}   (target >= 0.80: {'OK' if rel >= 0.8 else 'MISSED'})"
                )
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
