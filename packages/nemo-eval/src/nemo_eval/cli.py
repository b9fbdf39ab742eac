"""``nemo-eval deploy``: serve a checkpoint until Ctrl-C or SIGTERM.

Prints one line ``nemo-eval: serving MODEL at URL`` (flushed) once ``/v1/health`` answers, so a
launcher can wait for it; errors are one line on stderr with exit status 2 (bad arguments or
checkpoint) or 1 (anything else).
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from collections.abc import Sequence

from nvidia_eval_commons.api.plugins import SERVING_BACKENDS
from nvidia_eval_commons.cli_parser import quiet_on_closed_stdout
from nvidia_eval_commons.errors import MissingExtraError

from .errors import DeployConfigError, NemoEvalError


def _parser() -> argparse.ArgumentParser:
    from nvidia_eval_commons.cli_parser import build_cli_parser

    parser = build_cli_parser(
        prog="nemo-eval",
        description="Serve a model as an OpenAI-compatible API.",
        distribution="nemo-eval",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dep = sub.add_parser("deploy", help="serve a checkpoint until Ctrl-C or SIGTERM")
    dep.add_argument(
        "--checkpoint", default=None, help=".nemo, NeMo 2 dir, HF dir or .gguf; default SmolLM2"
    )
    dep.add_argument("--backend", choices=SERVING_BACKENDS.names(), default="embedded")
    dep.add_argument("--host", default="127.0.0.1")
    dep.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    dep.add_argument("--model-name", default=None)
    dep.add_argument("--engine", choices=("hf", "nemo"), default=None)
    dep.add_argument("--num-gpus", type=int, default=0)
    dep.add_argument("--num-nodes", type=int, default=1)
    dep.add_argument("--tensor-parallelism-size", type=int, default=1)
    dep.add_argument("--pipeline-parallelism-size", type=int, default=1)
    dep.add_argument("--max-input-len", type=int, default=4096)
    dep.add_argument("--max-batch-size", type=int, default=8)
    dep.add_argument("--num-replicas", type=int, default=1)
    dep.add_argument("--num-cpus-per-replica", type=float, default=None)
    dep.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    dep.add_argument(
        "--cpu-threads",
        type=int,
        default=None,
        help="torch threads on CPU (default: half the cores)",
    )
    dep.add_argument(
        "--run-dir", default=None, help="working directory (Ray temp files, Triton logs)"
    )
    dep.add_argument("--start-timeout", type=float, default=300.0)
    dep.add_argument("--log-level", default="WARNING")
    return parser


@quiet_on_closed_stdout
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")

    def _terminate(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM during model loading aborts the start like Ctrl-C does; serve_forever installs
    # its own handler once the server is up.
    signal.signal(signal.SIGTERM, _terminate)
    from .api import deploy

    try:
        handle = deploy(
            checkpoint=args.checkpoint,
            serving_backend=args.backend,
            server_port=args.port,
            server_address=args.host,
            model_name=args.model_name,
            engine=args.engine,
            num_gpus=args.num_gpus,
            num_nodes=args.num_nodes,
            tensor_parallelism_size=args.tensor_parallelism_size,
            pipeline_parallelism_size=args.pipeline_parallelism_size,
            max_input_len=args.max_input_len,
            max_batch_size=args.max_batch_size,
            num_replicas=args.num_replicas,
            num_cpus_per_replica=args.num_cpus_per_replica,
            device=args.device,
            cpu_threads=args.cpu_threads,
            run_dir=args.run_dir,
            start_timeout=args.start_timeout,
        )
    except KeyboardInterrupt:
        print("nemo-eval: interrupted before the server was up", file=sys.stderr)
        return 130
    except DeployConfigError as exc:
        print(f"nemo-eval: error: {exc}", file=sys.stderr)
        return 2
    except (NemoEvalError, MissingExtraError, OSError) as exc:
        print(f"nemo-eval: error: {exc}", file=sys.stderr)
        return 1
    # What is loaded now (torch, transformers, the weights' Python objects) lives as long as
    # the process: kept out of the collector's full passes while serving and at exit
    gc.freeze()
    print(
        f"nemo-eval: serving {handle.model_name} at {handle.url} (OpenAI API under /v1)", flush=True
    )
    handle.serve_forever()
    # handed back to the collector for the interpreter's exit: objects still frozen then are
    # never finalized, and native extensions loaded with torch (triton's nanobind modules)
    # print a screenful of "leaked instance" warnings about them
    gc.unfreeze()
    print("nemo-eval: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
