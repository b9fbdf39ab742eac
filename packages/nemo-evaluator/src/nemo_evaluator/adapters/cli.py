"""``nemo-evaluator adapter``: run the adapter server in front of an upstream endpoint.

::

    nemo-evaluator adapter --api-url http://127.0.0.1:8080/v1/chat/completions --port 3825 \\
        --use-caching --log-failed-requests --output-dir adapter_out
    nemo-evaluator adapter --api-url ... --config adapter.yaml   # an AdapterConfig in YAML

Clients then call ``http://127.0.0.1:3825/v1/...``. Ctrl-C stops it and writes the stats.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import Any

_FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--use-caching", {"action": "store_true", "default": None, "help": "cache answers on disk"}),
    ("--caching-dir", {"help": "cache directory (default OUTPUT_DIR/cache)"}),
    (
        "--use-reasoning",
        {"action": "store_true", "default": None, "help": "strip <think> reasoning"},
    ),
    ("--end-reasoning-token", {"help": "token that ends reasoning (default </think>)"}),
    ("--custom-system-prompt", {"help": "system prompt that replaces the client's (chat only)"}),
    ("--max-logged-requests", {"type": int, "help": "0 disables, default 5"}),
    ("--max-logged-responses", {"type": int, "help": "0 disables, default 5"}),
    ("--log-failed-requests", {"action": "store_true", "default": None}),
    ("--progress-tracking-url", {"help": "POST {samples_processed: N} here"}),
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``adapter`` subcommand on an argparse subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "adapter",
        help="serve the interceptor proxy in front of an OpenAI-compatible endpoint",
        description=__doc__.split("\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "--api-url",
        required=True,
        help="upstream endpoint URL (full, e.g. .../v1/chat/completions)",
    )
    p.add_argument("--port", type=int, default=None, help="local port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--output-dir", default="adapter_output", help="logs, stats and cache go here")
    p.add_argument(
        "--config", help="YAML file holding an AdapterConfig (flat fields or interceptors)"
    )
    p.add_argument("--endpoint-type", choices=("chat", "completions"), help="default: from the URL")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="name of the environment variable holding the upstream's API key (preferred)",
    )
    keys.add_argument(
        "--api-key",
        help="the upstream's API key itself (visible in the process list; prefer --api-key-env)",
    )
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--request-timeout", type=float, default=300.0, help="seconds per attempt")
    p.add_argument(
        "--engine",
        choices=("asyncio", "waitress"),
        default="asyncio",
        help="asyncio (default): one event loop serves every request (uvicorn); waitress: the "
        "Flask app on --threads worker threads",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=16,
        help="waitress: worker threads; asyncio: streamed answers read at a time (default 16)",
    )
    p.add_argument(
        "--switch-interval",
        type=float,
        default=0.0005,
        help="Python thread switch interval in seconds (default 0.0005; Python's own is 0.005)",
    )
    for flag, kwargs in _FLAGS:
        p.add_argument(flag, **kwargs)
    p.set_defaults(func=run)
    return p


def _adapter_config(args: argparse.Namespace) -> Any:
    import yaml

    from nvidia_eval_commons.api.adapter import AdapterConfig

    data: dict[str, Any] = {}
    if args.config:
        loaded = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.config}: expected a mapping of AdapterConfig fields")
        data.update(loaded)
    for flag, _ in _FLAGS:
        key = flag.lstrip("-").replace("-", "_")
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    if "progress_tracking_url" in data and "use_progress_tracking" not in data:
        data["use_progress_tracking"] = True
    data.setdefault("api_url", args.api_url)
    return AdapterConfig.model_validate(data)


class _QueueWarningsPerMinute(logging.Filter):
    """Lets waitress's "Task queue depth is N" through once a minute, with what to do.

    waitress logs it for every request that finds all worker threads busy, which under a
    load above ``--threads`` is nearly every request. After one line the logger is raised
    to ERROR for a minute, so the records in between are not even built.
    """

    def __init__(self, logger: logging.Logger, threads: int) -> None:
        super().__init__()
        self.logger = logger
        self.threads = threads

    def filter(self, record: logging.LogRecord) -> bool:
        self.logger.setLevel(logging.ERROR)
        timer = threading.Timer(60.0, self.logger.setLevel, args=(logging.NOTSET,))
        timer.daemon = True
        timer.start()
        record.msg = (
            f"{record.getMessage()}: all {self.threads} worker threads are busy and requests "
            "wait (raise --threads if the upstream is slow; said at most once a minute)"
        )
        record.args = ()
        return True


def run(args: argparse.Namespace) -> int:
    """Start the server and block until Ctrl-C."""
    from nvidia_eval_commons.env import read_env
    from nvidia_eval_commons.openai_url import infer_endpoint_type

    from .pipeline import AdapterPipeline

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    queue_log = logging.getLogger("waitress.queue")
    queue_log.addFilter(_QueueWarningsPerMinute(queue_log, args.threads))
    # The proxy is I/O bound: a thread whose upstream answer arrived must get the GIL back
    # quickly. With Python's default 5 ms interval it may wait for a busy thread's whole
    # slice, which showed up as +2 to 3 ms per request in bench/adapter_overhead.py.
    sys.setswitchinterval(args.switch_interval)
    try:
        api_key = (
            read_env(args.api_key_env, field="--api-key-env") if args.api_key_env else args.api_key
        )
        cfg = _adapter_config(args)
        pipeline = AdapterPipeline.from_config(
            cfg,
            upstream_url=args.api_url,
            output_dir=args.output_dir,
            endpoint_type=args.endpoint_type or infer_endpoint_type(args.api_url),
            api_key=api_key,
            max_retries=args.max_retries,
            request_timeout=args.request_timeout,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        from .server import AdapterServer

        server = AdapterServer(
            pipeline, host=args.host, port=args.port, threads=args.threads, engine=args.engine
        )
    except ValueError as exc:
        pipeline.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"adapter listening on {server.url} -> {pipeline.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.close()
        print(
            f"adapter stopped; stats in {Path(args.output_dir) / 'adapter_stats.json'}", flush=True
        )
    return 0
