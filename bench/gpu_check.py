"""GPU check of the hf engine: CUDA against CPU float32 on the default model, and tokens/s.

    python bench/gpu_check.py [--devices cpu,cuda] [--prompts 16] [--out gpu_check.json]

Serves the default model (SmolLM2-135M-Instruct) with ``deploy()`` on each device in turn
(embedded backend, a free loopback port) and checks:

* echo log-probabilities of ``--prompts`` gsm8k/ARC-like prompts: every token's value on the
  GPU within 1e-3 of the CPU float32 one;
* greedy generations (64 new tokens, temperature 0) identical on both devices;
* tokens/s of greedy generation at concurrency 1, 8 and 64 on each device.

Prints one line per check (``ok`` / ``FAIL``) and writes the figures as JSON; exits 1 when a
check fails. ``bench/gpu_check.sh`` runs it on a GPU machine without internet; with
``--devices cpu`` it is a dry run of everything but the GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from nemo_eval.api import deploy

PROMPTS = [
    "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?\nAnswer:",
    "Question: Which factor will most likely cause a person to develop a fever?\nAnswer: a "
    "bacterial population in the bloodstream",
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "Question: George wants to warm his hands quickly by rubbing them. Which skin surface will "
    "produce the most heat?\nAnswer: dry palms",
    "Les élèves ont résolu le problème : trois fois sept font",
]


def prompts(n: int) -> list[str]:
    return [f"{PROMPTS[i % len(PROMPTS)]}{' ' * (i // len(PROMPTS))}" for i in range(n)]


def post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    resp = requests.post(url + "/v1/completions", json=payload, timeout=600)
    resp.raise_for_status()
    body: dict[str, Any] = resp.json()
    return body


def echo_logprobs(url: str, texts: list[str]) -> list[list[float | None]]:
    body = post(
        url,
        {"model": "m", "prompt": texts, "echo": True, "logprobs": 1, "max_tokens": 0},
    )
    choices = sorted(body["choices"], key=lambda c: c["index"])
    return [c["logprobs"]["token_logprobs"] for c in choices]


def greedy(url: str, text: str, max_tokens: int) -> tuple[str, int]:
    body = post(url, {"model": "m", "prompt": text, "max_tokens": max_tokens, "temperature": 0})
    return body["choices"][0]["text"], int(body["usage"]["completion_tokens"])


def tokens_per_s(url: str, texts: list[str], concurrency: int, max_tokens: int) -> float:
    work = [texts[i % len(texts)] for i in range(max(concurrency, 8))]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        done = list(pool.map(lambda t: greedy(url, t, max_tokens)[1], work))
    return sum(done) / (time.perf_counter() - start)


def measure(device: str, texts: list[str], args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    with deploy(server_port=0, device=device, max_batch_size=64) as server:
        ready = time.perf_counter() - started
        out: dict[str, Any] = {"device": device, "start_s": round(ready, 1)}
        out["logprobs"] = echo_logprobs(server.url, texts)
        out["greedy"] = [greedy(server.url, t, args.max_tokens)[0] for t in texts]
        out["tokens_per_s"] = {
            str(c): round(tokens_per_s(server.url, texts, c, args.max_tokens), 1)
            for c in args.concurrency
        }
    return out


def compare(ref: dict[str, Any], other: dict[str, Any], tol: float) -> list[tuple[str, bool]]:
    worst = 0.0
    for a, b in zip(ref["logprobs"], other["logprobs"], strict=True):
        if len(a) != len(b):
            return [(f"{other['device']}: token counts differ from {ref['device']}", False)]
        worst = max(
            [
                worst,
                *(abs(x - y) for x, y in zip(a, b, strict=True) if x is not None and y is not None),
            ]
        )
    same = sum(x == y for x, y in zip(ref["greedy"], other["greedy"], strict=True))
    n = len(ref["greedy"])
    return [
        (
            f"echo logprobs {other['device']} vs {ref['device']}: max |diff| {worst:.2e} <= {tol}",
            worst <= tol,
        ),
        (f"greedy generations identical: {same} of {n}", same == n),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 64]
    )
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args()
    texts = prompts(args.prompts)
    runs = [measure(device, texts, args) for device in args.devices.split(",")]
    checks: list[tuple[str, bool]] = []
    for other in runs[1:]:
        checks.extend(compare(runs[0], other, args.tolerance))
    for run in runs:
        rates = ", ".join(f"c{c}: {v} tok/s" for c, v in run["tokens_per_s"].items())
        print(
            f"{run['device']}: started in {run['start_s']} s; greedy {args.max_tokens} tokens: {rates}"
        )
    for text, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"runs": runs, "checks": [{"check": t, "ok": ok} for t, ok in checks]}, fh)
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
