"""NVIDIA's nemo-evaluator adapter proxy (0.2.x or 0.3.x), for bench/adapter_overhead.py.

Runs inside a virtualenv holding that release from PyPI (never ours): starts its proxy in
front of ``--api-url`` with the chain the benchmark gives ours (request and response
logging, caching, reasoning stripping, a system message), prints ``listening on URL`` once it
answers, and serves until terminated::

    VENV/bin/python bench/nvidia_adapter.py --api-url URL --output-dir DIR --threads 16
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from importlib.metadata import version

SYSTEM_PROMPT = "You are a helpful assistant."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_open(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"the adapter proxy did not open port {port} within {timeout:.0f} s")


def serve_02x(api_url: str, output_dir: str, threads: int) -> None:
    """0.2.x: Flask + waitress ``AdapterServer``, configured through its legacy flags."""
    from nemo_evaluator.adapters.adapter_config import AdapterConfig
    from nemo_evaluator.adapters.server import AdapterServer

    os.environ["ADAPTER_HOST"] = "127.0.0.1"
    os.environ["ADAPTER_SERVER_THREADS"] = str(threads)
    config = AdapterConfig.from_legacy_config(
        {
            "use_caching": True,
            "caching_dir": os.path.join(output_dir, "cache"),
            "use_reasoning": True,
            "use_system_prompt": True,
            "custom_system_prompt": SYSTEM_PROMPT,
            "use_request_logging": True,
            "use_response_logging": True,
            "tracking_requests_stats": False,
            "generate_html_report": False,
            "output_dir": output_dir,
        }
    )
    port = _free_port()
    server = AdapterServer(api_url=api_url, output_dir=output_dir, adapter_config=config, port=port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_open(port)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def serve_03x(api_url: str, output_dir: str) -> None:
    """0.3.x: the Starlette + uvicorn proxy, configured through interceptor specs."""
    from nemo_evaluator.adapters.proxy import start_adapter_proxy

    base = api_url.split("/v1/", 1)[0]  # it appends the request path
    handle = start_adapter_proxy(
        upstream_url=base,
        model_id="stub-model",
        port=_free_port(),
        # its pipeline wants the request stages first: logging and the system message
        # rewrite the request, the cache answers or passes on, reasoning strips the answer
        interceptor_specs=[
            {"name": "logging"},
            {"name": "system_message", "config": {"system_message": SYSTEM_PROMPT}},
            {"name": "caching", "config": {"cache_dir": os.path.join(output_dir, "cache")}},
            {"name": "reasoning"},
        ],
    )
    print(f"listening on {handle.url}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    handle.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api-url", required=True, help="the upstream's chat completions URL")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--threads", type=int, default=16, help="0.2.x only: waitress threads")
    args = parser.parse_args()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    release = version("nemo-evaluator")
    if release.startswith("0.2."):
        serve_02x(args.api_url, args.output_dir, args.threads)
    else:
        serve_03x(args.api_url, args.output_dir)


if __name__ == "__main__":
    main()
