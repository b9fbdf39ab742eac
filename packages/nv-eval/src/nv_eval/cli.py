"""``nv-eval``: run / status / ls / logs / kill / export.

nv-eval run --config-name my_evaluation -o config.type=gsm8k,hellaswag -o execution.parallel_jobs=2
nv-eval run --config-name my_evaluation config.params.temperature=0,0.7 --multirun
nv-eval status <id> [--json]
nv-eval ls | nv-eval ls tasks
nv-eval logs <id>[.<job>]
nv-eval kill <id>[.<job>]
nv-eval export <id> --dest mlflow,wandb,local --format json|csv
nv-eval report <id> [<id> ...] [--output DIR]
nv-eval compare <run_a> <run_b> [--gate KEY>=MARGIN] [--json] [--output DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.markup import escape

from nvidia_eval_commons import ConfigError, MissingExtraError
from nvidia_eval_commons.cli_parser import quiet_on_closed_stdout

from .errors import NvEvalError, UnknownExporterError

_POLL_S = 1.0
_STYLE = {
    "pending": "yellow",
    "running": "cyan",
    "success": "green",
    "failed": "red",
    "killed": "magenta",
}


def _console(*, stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


def _runtime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _job_rows(inv: Any, jobs: list[Any]) -> list[dict[str, Any]]:
    from .launcher import progress

    rows = []
    for job in jobs:
        done, total = progress(job)
        rows.append(
            {
                "job_id": job.id,
                "task": job.task,
                "state": job.state,
                "progress": {"done": done, "total": total},
                "runtime_s": job.runtime(),
                "output_dir": job.output_dir,
                "exit_code": job.exit_code,
                "message": job.message,
                "handle": job.handle,
            }
        )
    return rows


def _table(inv: Any, jobs: list[Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"invocation {inv.id} ({inv.executor})", title_justify="left")
    for col in ("job", "task", "state", "progress", "runtime", "output dir"):
        table.add_column(col, overflow="fold")
    for row in _job_rows(inv, jobs):
        prog = row["progress"]
        shown = f"{prog['done']}/{prog['total']}" if prog["total"] else f"{prog['done']}"
        state = f"[{_STYLE.get(row['state'], '')}]{row['state']}[/]"
        if row["state"] == "failed" and row["message"]:
            state += f"\n[dim]{escape(row['message'][:120])}[/]"
        table.add_row(
            row["job_id"], row["task"], state, shown, _runtime(row["runtime_s"]), row["output_dir"]
        )
    return table


def _job_metrics(jobs: list[Any]) -> dict[str, dict[str, float]]:
    """``{job_id: {"task.metric.score": value}}`` for the jobs that finished with results."""
    from nvidia_eval_commons.api.results import EvaluationResult

    found: dict[str, dict[str, float]] = {}
    for job in jobs:
        path = Path(job.output_dir) / "results.json"
        if job.state != "success" or not path.is_file():
            continue
        result = EvaluationResult.model_validate_json(path.read_text(encoding="utf-8"))
        found[job.id] = result.flat_metrics()
    return found


def _metrics_table(jobs: list[Any]) -> Any | None:
    from rich.table import Table

    table = Table(title="results", title_justify="left")
    for col in ("job", "task", "metric", "value"):
        table.add_column(col)
    tasks = {job.id: job.task for job in jobs}
    n = 0
    for job_id, metrics in _job_metrics(jobs).items():
        for key, value in metrics.items():
            table.add_row(job_id, tasks[job_id], key, f"{value:.4f}")
            n += 1
    return table if n else None


def _status_json(inv: Any, jobs: list[Any]) -> str:
    metrics = _job_metrics(jobs)
    rows = [{**row, "metrics": metrics.get(row["job_id"])} for row in _job_rows(inv, jobs)]
    return json.dumps({"invocation_id": inv.id, "executor": inv.executor, "jobs": rows}, indent=2)


# -- commands ------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from . import launcher
    from .config import compose_config
    from .store import Store
    from .sweep import compose_sweep

    overrides = [*args.overrides, *args.override]
    bad = [o for o in args.overrides if "=" not in o and not o.startswith("~")]
    if bad:
        raise NvEvalError(
            f"'{bad[0]}' is not an override; write key=value, +key=value or ~key "
            "(options start with --)"
        )
    composed: Any
    sweep: list[str] = []
    if args.multirun:
        combos = compose_sweep(
            config_name=args.config_name,
            config_dir=args.config_dir,
            overrides=overrides,
            executor=args.executor,
        )
        composed = [c.composed for c in combos]
        sweep = [" ".join(c.overrides) or "(no overrides)" for c in combos]
    else:
        composed = compose_config(
            config_name=args.config_name,
            config_dir=args.config_dir,
            overrides=overrides,
            executor=args.executor,
        )
    if args.dry_run:
        sys.stdout.write(launcher.dry_run(composed, sweep=sweep))
        return 0
    console = _console(stderr=args.json)
    with Store() as store:
        inv, jobs = launcher.submit(composed, store)
        console.print(
            f"invocation [bold]{inv.id}[/] submitted: {len(jobs)} job(s) on {inv.executor}, "
            f"outputs in {Path(inv.output_dir) / inv.id}"
        )
        if args.detach:
            console.print(f"watch it with: nv-eval status {inv.id}")
            return 0
        return _watch(store, inv, console, as_json=args.json)


def _watch(store: Any, inv: Any, console: Any, *, as_json: bool = False) -> int:
    from rich.live import Live

    from . import launcher

    try:
        live_view = Live(
            _table(inv, store.jobs(inv.id)),
            console=console,
            refresh_per_second=2,
            transient=as_json,
        )
        with live_view as live:
            while True:
                jobs = launcher.refresh(store, inv)
                live.update(_table(inv, jobs))
                if all(j.terminal for j in jobs):
                    break
                time.sleep(_POLL_S)
    except KeyboardInterrupt:
        console.print(
            f"stopped watching; the jobs keep running: nv-eval status {inv.id} "
            f"(or nv-eval kill {inv.id})"
        )
        return 130
    if as_json:
        print(_status_json(inv, jobs))
    else:
        metrics = _metrics_table(jobs)
        if metrics is not None:
            console.print(metrics)
    failed = [j for j in jobs if j.state != "success"]
    for j in failed:
        console.print(
            f"[red]{j.id} {j.task}: {j.state}[/] {escape(j.message or '')} (nv-eval logs {j.id})"
        )
    return 1 if failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    from . import launcher
    from .store import Store

    with Store() as store:
        inv, job = store.resolve(args.id)
        jobs = launcher.refresh(store, inv)
        if job is not None:
            jobs = [j for j in jobs if j.id == job.id]
        if args.json:
            print(_status_json(inv, jobs))
            return 0
        console = _console()
        console.print(_table(inv, jobs))
        metrics = _metrics_table(jobs)
        if metrics is not None:
            console.print(metrics)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from rich.table import Table

    console = _console()
    if args.what == "tasks":
        from nemo_evaluator.benchmarks import list_benchmarks

        tasks = sorted(list_benchmarks().items())
        if args.json:
            listing = [
                {"task": name, "endpoint_types": list(getattr(cls, "endpoint_types", ()))}
                for name, cls in tasks
            ]
            print(json.dumps(listing, indent=2))
            return 0
        table = Table(title="tasks")
        table.add_column("task")
        table.add_column("endpoints")
        for name, cls in tasks:
            table.add_row(name, ", ".join(getattr(cls, "endpoint_types", ())))
        console.print(table)
        return 0
    from .store import Store

    with Store() as store:
        if args.json:
            rows = []
            for inv in store.invocations(limit=args.limit):
                rows.append(
                    {
                        "id": inv.id,
                        "created_at": inv.created_at,
                        "executor": inv.executor,
                        "output_dir": inv.output_dir,
                        "jobs": [
                            {"id": j.id, "task": j.task, "state": j.state}
                            for j in store.jobs(inv.id)
                        ],
                    }
                )
            print(json.dumps(rows, indent=2))
            return 0
        table = Table(title=f"invocations ({store.path})")
        for col in ("id", "created", "executor", "jobs", "states"):
            table.add_column(col)
        for inv in store.invocations(limit=args.limit):
            jobs = store.jobs(inv.id)
            counts: dict[str, int] = {}
            for j in jobs:
                counts[j.state] = counts.get(j.state, 0) + 1
            created = datetime.fromtimestamp(inv.created_at).strftime("%Y-%m-%d %H:%M:%S")
            states = ", ".join(f"{v} {k}" for k, v in counts.items())
            table.add_row(inv.id, created, inv.executor, ", ".join(j.task for j in jobs), states)
        console.print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from . import launcher
    from .comparison import generate_comparison_report
    from .store import Store

    results: dict[str, dict[str, Path]] = {}
    with Store() as store:
        for ident in args.ids:
            inv, only = store.resolve(ident)
            jobs = launcher.refresh(store, inv)
            if only is not None:
                jobs = [j for j in jobs if j.id == only.id]
            endpoint = inv.config.get("target", {}).get("api_endpoint", {})
            label = str(endpoint.get("model_id") or inv.id)
            if label in results:
                label = f"{label} ({inv.id})"
            found = {
                j.task: Path(j.output_dir)
                for j in jobs
                if j.state == "success" and (Path(j.output_dir) / "results.json").exists()
            }
            if not found:
                raise NvEvalError(
                    f"invocation {inv.id} has no finished job with results yet; "
                    f"see `nv-eval status {inv.id}`"
                )
            results[label] = found
    report = generate_comparison_report(results, all_scores=args.all_scores)
    out = Path(args.output or f"comparison_{'_'.join(args.ids)}")
    paths = report.write(out)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    report.print(_console())
    print(f"Markdown: {paths['markdown']}\nHTML: {paths['html']}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from . import launcher
    from .store import Store

    with Store() as store:
        inv, job = store.resolve(args.id)
        jobs = [job] if job is not None else store.jobs(inv.id)
        for j in jobs:
            if len(jobs) > 1:
                print(f"==> {j.id} {j.task} <==")
            sys.stdout.write(launcher.logs(inv, j))
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    from . import launcher
    from .store import Store

    with Store() as store:
        inv, job = store.resolve(args.id)
        jobs = launcher.kill(store, inv, job)
        _console().print(_table(inv, jobs))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rich.table import Table

    from nvidia_eval_commons.api.launcher import ExporterSpec

    from . import launcher
    from .exporters import EXPORTERS, ExportItem, run_exporters
    from .store import Store

    dests = [d.strip() for d in args.dest.split(",") if d.strip()]
    unknown = [d for d in dests if d not in EXPORTERS]
    if unknown:
        raise UnknownExporterError(f"--dest: {EXPORTERS.unknown(unknown[0])}")
    with Store() as store:
        inv, job = store.resolve(args.id)
        jobs = launcher.refresh(store, inv)
        if job is not None:
            jobs = [j for j in jobs if j.id == job.id]
        done = [j for j in jobs if j.state == "success"]
        if not done:
            raise NvEvalError(
                f"invocation {inv.id} has no finished job to export yet (nv-eval status {inv.id})"
            )
        items = [
            ExportItem.from_dir(
                job_id=j.id,
                task=j.task,
                output_dir=Path(j.output_dir),
                config=inv.config,
                executor=inv.executor,
            )
            for j in done
        ]
        configured = {
            e.get("type"): e.get("config") or {} for e in inv.config.get("exporters") or []
        }
        specs = [ExporterSpec(type=d, config=configured.get(d, {})) for d in dests]
        outcomes = run_exporters(
            specs, items, invocation_dir=Path(inv.output_dir) / inv.id, fmt=args.format
        )
    table = Table(title=f"export of {inv.id} ({len(items)} job(s))", title_justify="left")
    for col in ("destination", "status", "detail"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        table.add_row(o.exporter, "[green]ok[/]" if o.ok else "[red]failed[/]", escape(o.detail))
    _console().print(table)
    skipped = len(jobs) - len(done)
    if skipped:
        _console().print(f"{skipped} job(s) not exported: not finished successfully")
    return 0 if all(o.ok for o in outcomes) else 1


def build_parser() -> argparse.ArgumentParser:
    from nvidia_eval_commons.cli_parser import build_cli_parser

    parser = build_cli_parser(
        prog="nv-eval",
        description="Run evaluation studies from one YAML file.",
        distribution="nv-eval",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="compose a config and run its jobs")
    run.add_argument("--config-name", required=True, help="YAML file name (without .yaml)")
    run.add_argument("--config-dir", default=None, help="directory of the file (default: cwd)")
    run.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="Hydra overrides: key=value, +key=value (add), ++key=value, ~key (delete)",
    )
    run.add_argument(
        "-o",
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override, as the positional ones (kept for scripts)",
    )
    run.add_argument(
        "-m",
        "--multirun",
        action="store_true",
        help="sweep: each combination of comma lists (a,b), choice() and range() is composed "
        "on its own; all their jobs form one invocation",
    )
    run.add_argument("--executor", default=None, help="local, slurm or lepton")
    run.add_argument("--dry-run", action="store_true", help="print the config and the job specs")
    run.add_argument("--detach", action="store_true", help="return after submitting")
    run.add_argument(
        "--json",
        action="store_true",
        help="when the jobs end, print their states and metrics as JSON on stdout",
    )
    run.set_defaults(func=cmd_run)
    st = sub.add_parser("status", help="state of an invocation's jobs")
    st.add_argument("id")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)
    ls = sub.add_parser("ls", help="list invocations, or `ls tasks`")
    ls.add_argument("what", nargs="?", choices=["invocations", "tasks"], default="invocations")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument(
        "--json", action="store_true", help="invocations (newest first) or tasks as JSON"
    )
    ls.set_defaults(func=cmd_ls)
    rp = sub.add_parser(
        "report", help="compare invocations: models by benchmarks (terminal, Markdown, HTML)"
    )
    rp.add_argument("ids", nargs="+", help="invocation ids (or unique prefixes)")
    rp.add_argument("--output", help="directory for comparison.md/.html/.json")
    rp.add_argument(
        "--all-scores",
        action="store_true",
        help="every score of every task and group (default: each benchmark's headline score, "
        "groups folded)",
    )
    rp.add_argument("--json", action="store_true", help="print the comparison as JSON on stdout")
    rp.set_defaults(func=cmd_report)
    from .compare import add_compare_parser

    add_compare_parser(sub)
    lg = sub.add_parser("logs", help="a job's (or every job's) log")
    lg.add_argument("id")
    lg.set_defaults(func=cmd_logs)
    kl = sub.add_parser("kill", help="stop an invocation or one job")
    kl.add_argument("id")
    kl.set_defaults(func=cmd_kill)
    ex = sub.add_parser("export", help="export finished results")
    ex.add_argument("id")
    ex.add_argument("--dest", default="local", help="comma list of local, mlflow, wandb")
    ex.add_argument(
        "--format",
        choices=["json", "csv", "lm-eval"],
        default="json",
        help="local: metrics.json/.csv, or lm-eval's results and samples layout",
    )
    ex.set_defaults(func=cmd_export)
    return parser


@quiet_on_closed_stdout
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # overrides may come after options too (`run --config-name x a=1 --dry-run b=2`)
    args, rest = parser.parse_known_args(argv)
    if rest:
        if args.command != "run" or any(r.startswith("-") and "=" not in r for r in rest):
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        args.overrides = [*args.overrides, *rest]
    try:
        return int(args.func(args) or 0)
    except (NvEvalError, ConfigError, MissingExtraError) as err:
        print(f"nv-eval: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nv-eval: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
