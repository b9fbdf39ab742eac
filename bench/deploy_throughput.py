"""Generated tokens/s at concurrency 1 and 8 for each serving backend, and start-up time.

Targets: embedded at concurrency 8 >= 2.5x its concurrency-1 tokens/s; pytriton and ray within
20% of embedded at concurrency 8. Traffic goes only to 127.0.0.1; every loop is bounded.

    uv run python bench/deploy_throughput.py --backends embedded,pytriton,ray
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="embedded,pytriton,ray")
    parser.add_argument("--requests", type=int, default=16, help="requests per measurement")
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    rows: dict[str, tuple[float, float, float]] = {}
    for backend in args.backends.split(","):
        t0 = time.perf_counter()
        with deploy(
            serving_backend=backend, server_port=0, max_batch_size=8, start_timeout=600
        ) as handle:
            startup = time.perf_counter() - t0
            _one(handle.url, "Warm up.", 4)
            c1 = tokens_per_second(
                handle.url,
                concurrency=1,
                requests_total=args.requests // 2,
                max_tokens=args.max_tokens,
            )
            c8 = tokens_per_second(
                handle.url, concurrency=8, requests_total=args.requests, max_tokens=args.max_tokens
            )
        rows[backend] = (startup, c1, c8)
        print(
            f"{backend:9s} start {startup:6.1f} s   c=1 {c1:7.1f} tok/s   c=8 {c8:7.1f} tok/s   c8/c1 {c8 / max(c1, 1e-9):4.2f}x"
        )
    if "embedded" in rows:
        _, c1, c8 = rows["embedded"]
        print(
            f"embedded c8/c1 = {c8 / max(c1, 1e-9):.2f}x   (target >= 2.50x: {'OK' if c8 / max(c1, 1e-9) >= 2.5 else 'MISSED'})"
        )
        for name in ("pytriton", "ray"):
            if name in rows:
                ratio = rows[name][2] / c8
                print(
                    f"{name} c8 / embedded c8 = {ratio:.2f}   (target >= 0.80: {'OK' if ratio >= 0.8 else 'MISSED'})"
                )


if __name__ == "__main__":
    main()
