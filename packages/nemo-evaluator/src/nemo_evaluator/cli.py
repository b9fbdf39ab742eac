"""``nemo-evaluator``: run a benchmark against an endpoint, or list the benchmarks.

::

    nemo-evaluator run --model-url http://127.0.0.1:8080 --model-id m --type gsm8k \\
        --output-dir out [--endpoint-type completions] [-o params.limit_samples=10] [--rescore]
    nemo-evaluator run --tasks gsm8k --limit 5 --num-fewshot 8 ...   # lm-eval's spellings
    nemo-evaluator run --resume out          # continue an interrupted run from its journal
    nemo-evaluator ls [--lm-eval [PATTERN]]     # our benchmarks, or lm-eval's tasks
    nemo-evaluator run ... --type lm-eval.mytask --include-path DIR   # lm-eval task YAMLs
    nemo-evaluator run ... --json            # results.json on stdout
    nemo-evaluator ls [--json]
    nemo-evaluator export out --format lm-eval [--dest DIR]   # lm-eval's results/samples layout
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from nvidia_eval_commons.cli_parser import quiet_on_closed_stdout
from nvidia_eval_commons.openai_url import with_endpoint

# Modules that add a subcommand: each has ``add_parser(subparsers)`` and sets ``func`` on it.
# A module that is not installed is skipped.
SUBCOMMAND_MODULES: tuple[str, ...] = ("nemo_evaluator.adapters.cli",)


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"-o {dotted}: '{key}' is not a mapping")
    node[keys[-1]] = value


def _apply_overrides(config: dict[str, Any], overrides: Sequence[str]) -> None:
    """``-o params.limit_samples=10``: YAML-typed values set into the evaluation config."""
    for item in overrides:
        for part in item.split(",") if item.count("=") > 1 else [item]:
            if "=" not in part:
                raise ValueError(
                    f"-o {part!r}: expected KEY=VALUE, e.g. -o params.limit_samples=10"
                )
            key, raw = part.split("=", 1)
            key = key.strip().removeprefix("config.")
            _set_dotted(config, key, yaml.safe_load(raw) if raw.strip() else None)


def _run(args: argparse.Namespace) -> int:
    from nvidia_eval_commons.api.api_dataclasses import EvaluationConfig, EvaluationTarget

    from .core.evaluate import evaluate
    from .core.output import read_run_config

    adapter: dict[str, Any] | None = None
    try:
        if args.resume:
            stored = read_run_config(Path(args.resume))
            target_d, config_d, adapter = stored["target"], stored["config"], stored.get("adapter")
        else:
            missing = [f for f in ("model_url", "type", "output_dir") if not getattr(args, f)]
            if missing:
                flags = ", ".join("--" + m.replace("_", "-") for m in missing)
                return _fail(f"run needs {flags} (or --resume OUTPUT_DIR)")
            from .benchmarks.registry import get_benchmark

            etype = args.endpoint_type
            if etype is None and "/completions" not in args.model_url:
                first = args.type.split(",")[0].strip()
                etype = get_benchmark(first).endpoint_types[0]
            url = with_endpoint(args.model_url, etype or "chat")
            endpoint: dict[str, Any] = {"url": url, "model_id": args.model_id}
            if etype:
                endpoint["type"] = etype
            target_d = {"api_endpoint": endpoint}
            config_d = {"type": args.type, "output_dir": args.output_dir, "params": {}}
            if args.adapter_config:
                adapter = yaml.safe_load(Path(args.adapter_config).read_text(encoding="utf-8"))
        if args.api_key or args.api_key_env:
            target_d["api_endpoint"].pop("api_key", None)
            target_d["api_endpoint"].pop("api_key_env", None)
        if args.api_key:
            target_d["api_endpoint"]["api_key"] = args.api_key
        elif args.api_key_env:
            target_d["api_endpoint"]["api_key_env"] = args.api_key_env
        _apply_overrides(config_d, args.override)
        params = config_d.setdefault("params", {})
        if args.limit is not None:
            params["limit_samples"] = args.limit
        if args.num_fewshot is not None:
            params["num_fewshot"] = args.num_fewshot
        extra = params.setdefault("extra", {}) if isinstance(params, dict) else {}
        extra.pop("rescore", None)
        if args.rescore:
            extra["rescore"] = True
        if args.preflight is False:
            extra["preflight"] = False
        if args.quiet or args.json:
            extra["quiet"] = True
        if args.include_path:
            extra["lm_eval_include_path"] = [str(Path(p).resolve()) for p in args.include_path]
        target = EvaluationTarget.model_validate(target_d)
        config = EvaluationConfig.model_validate(config_d)
        result = evaluate(target, config, adapter)
    except KeyboardInterrupt:
        # the journal is closed and the resume command printed; do not wait for requests
        # still in flight (they would only be thrown away)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(130)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        return _fail(str(message), code=1)
    if args.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    return 0


def _limit(text: str) -> int | float:
    """``--limit 5`` (samples) or ``--limit 0.1`` (a fraction), as lm-eval reads it."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of samples or a fraction below 1, got {text!r}"
        ) from None
    return int(value) if value >= 1 and value.is_integer() else value


def _ls_lm_eval(pattern: str | None, include_path: Sequence[str], *, as_json: bool) -> int:
    from .lm_eval import list_tasks
    from .lm_eval.catalog import include_paths

    try:
        rows = list_tasks(pattern, include_paths(list(include_path)))
    except (ValueError, ImportError) as err:
        return _fail(str(err), code=1)
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    print(f"{'name':<{width}}  {'kind':<5}  output type")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['kind']:<5}  {r['output_type']}")
    print(f"{len(rows)} lm-eval names", file=sys.stderr)
    return 0


def _ls(args: argparse.Namespace) -> int:
    from .benchmarks.registry import list_benchmarks

    if args.lm_eval is not None:
        return _ls_lm_eval(args.lm_eval or None, args.include_path, as_json=args.json)

    rows = [
        (name, ",".join(cls.endpoint_types), cls.harness_task or "-", cls.description)
        for name, cls in list_benchmarks().items()
    ]
    if args.json:
        keys = ("name", "endpoint_types", "harness_task", "description")
        listing = [
            dict(zip(keys, (n, t.split(","), None if h == "-" else h, d), strict=True))
            for n, t, h, d in rows
        ]
        print(json.dumps(listing, indent=2))
        return 0
    width = max((len(r[0]) for r in rows), default=4)
    print(f"{'name':<{width}}  {'endpoints':<18}  {'lm-eval task':<16}  description")
    for name, types, harness, desc in rows:
        print(f"{name:<{width}}  {types:<18}  {harness:<16}  {desc}")
    return 0


def _add_run(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="evaluate an endpoint on a benchmark")
    p.add_argument(
        "--model-url",
        help="endpoint URL (a bare host gets /v1/completions or /v1/chat/completions)",
    )
    p.add_argument("--model-id", help="model name sent in requests (default: ask /v1/models)")
    p.add_argument(
        "--type",
        "--tasks",
        dest="type",
        help="benchmark name(s), comma-separated; see `nemo-evaluator ls` (--tasks: lm-eval's name)",
    )
    p.add_argument(
        "--output-dir",
        "--output_path",
        dest="output_dir",
        help="directory for results, samples, journal and report",
    )
    p.add_argument(
        "--limit",
        type=_limit,
        metavar="N",
        help="first N samples (N < 1: that fraction); same as -o params.limit_samples=N",
    )
    p.add_argument(
        "--num-fewshot",
        "--num_fewshot",
        dest="num_fewshot",
        type=int,
        metavar="K",
        help="few-shot examples per prompt; same as -o params.num_fewshot=K",
    )
    p.add_argument("--endpoint-type", choices=("chat", "completions"), help="default: from the URL")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="name of the environment variable holding the API key (preferred; only it is saved)",
    )
    keys.add_argument(
        "--api-key",
        help="the API key itself (visible in the process list; prefer --api-key-env)",
    )
    p.add_argument("--adapter-config", help="YAML file with an AdapterConfig (interceptors)")
    p.add_argument(
        "-o",
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config field, e.g. -o params.limit_samples=10 -o params.parallelism=16",
    )
    p.add_argument(
        "--include-path",
        action="append",
        default=[],
        metavar="DIR",
        help="folder of lm-eval task YAMLs for lm-eval.<task> (as lm_eval --include_path)",
    )
    p.add_argument("--rescore", action="store_true", help="recompute metrics from the journal only")
    p.add_argument("--resume", metavar="OUTPUT_DIR", help="continue the run stored in OUTPUT_DIR")
    p.add_argument(
        "--no-preflight",
        dest="preflight",
        action="store_false",
        default=None,
        help="skip the check of the endpoint before the first sample (for endpoints that bill "
        "every request); same as -o params.extra.preflight=false",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument(
        "--json", action="store_true", help="print the results as JSON on stdout (implies -q)"
    )
    p.set_defaults(func=_run)


def _export(args: argparse.Namespace) -> int:
    from .core.export_lm_eval import write_lm_eval

    source = Path(args.output_dir)
    if not (source / "results.json").is_file():
        return _fail(f"no results.json in {source}; is it the output dir of a finished run?", 1)
    dest = Path(args.dest) if args.dest else source / "lm_eval"
    try:
        paths = write_lm_eval(source, dest)
    except (OSError, ValueError) as err:
        return _fail(f"cannot export {source}: {err}", 1)
    for path in paths:
        print(path)
    return 0


def _add_export(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="write a run's results in another tool's layout")
    p.add_argument("output_dir", help="the output dir of a finished run")
    p.add_argument(
        "--format",
        choices=("lm-eval",),
        required=True,
        help="lm-eval: results_<time>.json and samples_<task>_<time>.jsonl as lm-eval writes",
    )
    p.add_argument("--dest", help="directory to write to (default OUTPUT_DIR/lm_eval)")
    p.set_defaults(func=_export)


def _add_ls(subparsers: Any) -> None:
    p = subparsers.add_parser("ls", help="list benchmarks and their endpoint types")
    p.add_argument(
        "--lm-eval",
        nargs="?",
        const="",
        default=None,
        metavar="PATTERN",
        help="list lm-eval tasks, groups and tags (run them as lm-eval.<name>); PATTERN filters",
    )
    p.add_argument(
        "--include-path", action="append", default=[], metavar="DIR", help="extra task YAMLs"
    )
    p.add_argument("--json", action="store_true", help="the list as JSON on stdout")
    p.set_defaults(func=_ls)


def build_parser() -> argparse.ArgumentParser:
    from nvidia_eval_commons.cli_parser import build_cli_parser

    parser = build_cli_parser(
        prog="nemo-evaluator", description=__doc__.split("\n")[0], distribution="nemo-evaluator"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    adders: list[Callable[[Any], None]] = [_add_run, _add_ls, _add_export]
    for module in SUBCOMMAND_MODULES:
        try:
            adders.append(importlib.import_module(module).add_parser)
        except ModuleNotFoundError as err:
            if err.name is None or not module.startswith(err.name):
                raise
    for add in adders:
        add(subparsers)
    return parser


@quiet_on_closed_stdout
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
