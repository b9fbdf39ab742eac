"""Overhead of the adapter: direct to upstream vs through the proxy vs client mode.

An upstream that answers at once (the stub model server in its own process: the Flask +
waitress one by default, ``--stub-engine asyncio`` for the light one) is called
at concurrency 1, 16 and 64:

* ``direct``     the load generator posts straight to the upstream;
* ``proxy-miss`` through ``nemo-evaluator adapter`` (own process) with request/response
  logging, caching, reasoning stripping and a system message; every request is new (a miss);
* ``proxy-hit``  the same requests again (all cache hits);
* ``client``     the same chain in-process (``AdapterPipeline.send``), all misses;
* ``wsgi-miss``  (``--waitress``) the proxy on its other engine, ``--engine waitress`` (the
  Flask app on waitress's threads), every request new;
* ``floor``      (``--floor``) bench/proxy_floor.py: a bare WSGI app on the same waitress
  server forwarding each request with http.client, no chain: the least this design costs;
* ``base-miss``  (``--baseline-src``) the proxy again, imported from another source tree, so
  that before and after come from one run on the same machine;
* ``nv-X-miss``  NVIDIA's nemo-evaluator X adapter proxy (``--nvidia``, default 0.2.8 and
  0.3.0, each in its own virtualenv from PyPI, see bench/nvidia_adapter.py) with the same
  chain in front of the same upstream, every request new.

Prints requests/s, p50/p99 latency and the answering process's CPU time per request (the
figure that moves least when the machine is shared), then ours vs the targets, vs the
baseline and vs NVIDIA's side by side::

    uv run python bench/adapter_overhead.py [--requests 2000] [--levels 1,16,64] [--nvidia 0.2.8,0.3.0]
    mkdir -p /tmp/before && git archive OLD packages/nemo-evaluator/src | tar -x -C /tmp/before
    uv run python bench/adapter_overhead.py --baseline-src /tmp/before/packages/nemo-evaluator/src

The virtualenvs live under ``$NEMO_EVAL_BENCH_HOME`` (default ``~/.cache/nemo-eval-adapter-bench``)
and are made on first use with ``uv`` (0.3.x needs Python 3.12 or later: ``--nvidia-python``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import urllib3
from adapter_report import report

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
BENCH_HOME = Path(os.environ.get("NEMO_EVAL_BENCH_HOME", "~/.cache/nemo-eval-adapter-bench"))
HERE = Path(__file__).resolve().parent


def nvidia_python(release: str, python: str) -> Path:
    """The interpreter of a virtualenv holding NVIDIA's nemo-evaluator ``release``."""
    venv = BENCH_HOME.expanduser() / f"venv-{release}"
    exe = venv / "bin" / "python"
    probe = [str(exe), "-c", "import importlib.metadata as m; print(m.version('nemo-evaluator'))"]
    if (
        exe.exists()
        and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == release
    ):
        return exe
    uv = shutil.which("uv")
    if uv is None:
        sys.exit(
            "the NVIDIA comparison needs uv to make its virtualenvs (pip install uv), or --nvidia ''"
        )
    if python == "auto":
        python = "3.12" if not release.startswith("0.2.") else sys.executable
    subprocess.run([uv, "venv", "-q", "--clear", "-p", python, str(venv)], check=True)
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    subprocess.run([uv, "pip", "install", "-q", f"nemo-evaluator=={release}"], check=True, env=env)
    return exe


def _spawn_nvidia(
    exe: Path, upstream: str, out: Path, threads: int
) -> tuple[subprocess.Popen[str], str]:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            str(exe),
            str(HERE / "nvidia_adapter.py"),
            *("--api-url", upstream, "--output-dir", str(out), "--threads", str(threads)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # 0.2.x logs every request there
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "http://127.0.0.1" not in line:
        proc.kill()
        sys.exit(f"NVIDIA's adapter ({exe}) did not start: {line!r}")
    return proc, next(w for w in line.split() if w.startswith("http://127.0.0.1"))


def _spawn(args: list[str], *, src: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """``python args...`` and the URL it prints; with ``src``, ``nemo_evaluator`` is imported
    from that tree."""
    env = {**os.environ, "PYTHONPATH": src} if src else None
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
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


def _cpu_clock(proc: psutil.Process, *, children: bool = False) -> Callable[[], float]:
    """A clock of the user + system CPU seconds of ``proc`` (and its children)."""

    def seconds() -> float:
        total = 0.0
        for p in (proc, *(proc.children(recursive=True) if children else ())):
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        return total

    return seconds


def _run(
    call: Callable[[int], int],
    n: int,
    concurrency: int,
    cpu_clock: Callable[[], float] | None = None,
) -> dict:
    """``n`` calls spread over ``concurrency`` threads; bounded by MAX_PHASE_S.

    With ``cpu_clock`` (of the process doing the work), its CPU time per request is measured
    too: the figure that moves least when other work shares the machine.
    """
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
    cpu0 = cpu_clock() if cpu_clock else 0.0
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    cpu = cpu_clock() - cpu0 if cpu_clock else 0.0
    latencies.sort()
    return {
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "n": len(latencies),
        "errors": errors[0],
        "cpu_ms": 1000 * cpu / len(latencies) if cpu_clock and latencies else None,
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
    parser.add_argument(
        "--nvidia",
        default="0.2.8,0.3.0",
        help="NVIDIA nemo-evaluator releases to compare with ('' for none)",
    )
    parser.add_argument(
        "--nvidia-python",
        default="auto",
        help="interpreter for their virtualenvs (auto: this one for 0.2.x, 3.12 for 0.3.x)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run bench/proxy_floor.py (a bare waitress app forwarding with http.client: "
        "the least any proxy on this server design costs) as `floor`",
    )
    parser.add_argument(
        "--waitress",
        action="store_true",
        help="also run our proxy with --engine waitress (the Flask app on worker threads) as "
        "`wsgi-miss`, beside the default asyncio engine",
    )
    parser.add_argument(
        "--baseline-src",
        help="also run the proxy from this source tree (its nemo-evaluator src/ folder, e.g. "
        "from `git archive OLD packages/nemo-evaluator/src`) as `base-miss`: before/after "
        "in one run",
    )
    args = parser.parse_args()
    releases = [r for r in args.nvidia.split(",") if r]
    exes = {r: nvidia_python(r, args.nvidia_python) for r in releases}
    levels = [int(x) for x in args.levels.split(",")]
    work = Path(tempfile.mkdtemp(prefix="adapter_bench_"))
    (work / "adapter.json").write_text(json.dumps(CONFIG))
    up_proc, up_url = _spawn(
        [
            "-m",
            "nemo_evaluator.testing.openai_stub",
            "--threads",
            "16",
            "--engine",
            args.stub_engine,
        ]
    )
    upstream = up_url + "/v1/chat/completions"

    def proxy(name: str, src: str | None = None, *extra: str) -> tuple[subprocess.Popen[str], str]:
        return _spawn(
            [
                *("-m", "nemo_evaluator.cli", "adapter", "--api-url", upstream),
                *("--output-dir", str(work / name), "--config", str(work / "adapter.json")),
                *("--threads", str(args.proxy_threads), *extra),
            ],
            src=src,
        )

    px_proc, px_url = proxy("proxy")
    wsgi = proxy("proxy-wsgi", None, "--engine", "waitress") if args.waitress else None
    base = proxy("proxy-base", args.baseline_src) if args.baseline_src else None
    floor = (
        _spawn(
            [
                str(HERE / "proxy_floor.py"),
                "--api-url",
                upstream,
                "--threads",
                str(args.proxy_threads),
            ]
        )
        if args.floor
        else None
    )
    theirs = {
        r: _spawn_nvidia(exe, upstream, work / f"nv-{r}", args.proxy_threads)
        for r, exe in exes.items()
    }
    pipeline = AdapterPipeline.from_config(
        AdapterConfig(**CONFIG), upstream_url=upstream, output_dir=work / "client"
    )
    pool = urllib3.PoolManager(maxsize=max(levels), retries=False)
    up_ps, px_ps = _cpu_clock(psutil.Process(up_proc.pid)), _cpu_clock(psutil.Process(px_proc.pid))
    me = _cpu_clock(psutil.Process())  # client mode: the chain runs on the calling threads here
    rows: dict[tuple[str, int], dict] = {}
    try:
        for c in levels:
            n = args.requests if c > 1 else min(args.requests, 500)
            tag = f"c{c}"
            _run(_http_caller(pool, upstream, "warm"), 50, min(c, 8))  # warm connections
            rows["direct", c] = _run(_http_caller(pool, upstream, tag), n, c, up_ps)
            rows["proxy-miss", c] = _run(
                _http_caller(pool, px_url + "/v1/chat/completions", tag), n, c, px_ps
            )
            rows["proxy-hit", c] = _run(
                _http_caller(pool, px_url + "/v1/chat/completions", tag), n, c, px_ps
            )
            if floor is not None:
                rows["floor", c] = _run(
                    _http_caller(pool, floor[1] + "/v1/chat/completions", "f" + tag),
                    n,
                    c,
                    _cpu_clock(psutil.Process(floor[0].pid)),
                )
            if wsgi is not None:
                rows["wsgi-miss", c] = _run(
                    _http_caller(pool, wsgi[1] + "/v1/chat/completions", "w" + tag),
                    n,
                    c,
                    _cpu_clock(psutil.Process(wsgi[0].pid)),
                )
            if base is not None:
                rows["base-miss", c] = _run(
                    _http_caller(pool, base[1] + "/v1/chat/completions", "b" + tag),
                    n,
                    c,
                    _cpu_clock(psutil.Process(base[0].pid)),
                )
            rows["client", c] = _run(
                lambda i, t=tag: pipeline.send(_payload(i, "cm" + t)).status_code, n, c, me
            )
            for r, (nv_proc, nv_url) in theirs.items():
                rows[f"nv-{r}-miss", c] = _run(
                    _http_caller(pool, nv_url + "/v1/chat/completions", f"nv{r}{tag}"),
                    n,
                    c,
                    _cpu_clock(psutil.Process(nv_proc.pid), children=True),
                )
    finally:
        pipeline.close()
        extra = [pair[0] for pair in (base, floor, wsgi) if pair is not None]
        for proc in (*(p for p, _ in theirs.values()), *extra, px_proc, up_proc):
            proc.terminate()
            proc.wait(timeout=10)

    report(
        rows,
        levels=levels,
        releases=releases,
        stub_engine=args.stub_engine,
        floor=floor is not None,
        baseline=base is not None,
        waitress=wsgi is not None,
    )


if __name__ == "__main__":
    main()
