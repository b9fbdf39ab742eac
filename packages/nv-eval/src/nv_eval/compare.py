"""``nv-eval compare RUN_A RUN_B``: a paired comparison of two runs, and a regression gate.

    nv-eval compare baseline_inv candidate_inv                 # invocation ids (or prefixes)
    nv-eval compare inv1.0 inv2.0 --json                       # job ids
    nv-eval compare runs/a runs/b --gate 'arc_easy.acc>=-0.01' # output dirs; exit 1 on FAIL

A run is an invocation id, a job id (``<invocation>.<n>``) or an output directory. The
statistics come from :func:`nemo_evaluator.stats.compare`. With ``--until-decided`` both runs
(each a job or output dir holding a run_config.json, e.g. of a short first run) are continued
in rounds by :func:`nemo_evaluator.core.until_decided.evaluate_until_decided`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nemo_evaluator.stats import RunItems, check_gates, compare
from nemo_evaluator.stats.runs import read_run

from .errors import NvEvalError


def resolve_run(ident: str) -> tuple[str, dict[str, RunItems]]:
    """A label and the benchmark -> items map of a run named by id or directory."""
    path = Path(ident)
    if path.is_dir():
        return str(path), read_run(path)
    from . import launcher
    from .store import Store

    with Store() as store:
        inv, only = store.resolve(ident)
        jobs = launcher.refresh(store, inv)
    if only is not None:
        jobs = [j for j in jobs if j.id == only.id]
    runs: dict[str, RunItems] = {}
    for job in jobs:
        if job.state == "success" and (Path(job.output_dir) / "samples.jsonl").exists():
            runs.update(read_run(job.output_dir))
    if not runs:
        raise NvEvalError(
            f"{ident} has no finished job with samples yet; see `nv-eval status {inv.id}`"
        )
    model = (inv.config.get("target", {}).get("api_endpoint", {}) or {}).get("model_id")
    return (f"{ident} ({model})" if model else ident), runs


def run_dir(ident: str) -> Path:
    """The one task output dir an id or a directory names (for ``--until-decided``)."""
    if Path(ident).is_dir():
        return Path(ident)
    from .store import Store

    with Store() as store:
        inv, job = store.resolve(ident)
        jobs = [job] if job is not None else store.jobs(inv.id)
    if len(jobs) != 1:
        raise NvEvalError(
            f"{ident} has {len(jobs)} jobs; name one of them ({', '.join(j.id for j in jobs)})"
        )
    return Path(jobs[0].output_dir)


def _until_decided(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    from nemo_evaluator.core.until_decided import RunSpec, evaluate_until_decided

    dir_a, dir_b = run_dir(args.run_a), run_dir(args.run_b)

    def show(info: dict[str, Any]) -> None:
        print(
            f"round: {info['items']} items, discordant A {info['a_only']} / B {info['b_only']}, "
            f"p={info['p_value']:.3g}",
            file=sys.stderr,
            flush=True,
        )

    outcome = evaluate_until_decided(
        RunSpec.from_dir(dir_a),
        RunSpec.from_dir(dir_b),
        alpha=args.alpha,
        round_size=args.round_size,
        order_seed=args.seed,
        metric=args.metric,
        on_round=show,
    )
    print(outcome.line(), file=sys.stderr if args.json else sys.stdout, flush=True)
    return str(dir_a), str(dir_b), outcome.as_dict()


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .compare_render import rich_table, write_comparison

    sequential: dict[str, Any] | None = None
    if args.until_decided:
        args.run_a, args.run_b, sequential = _until_decided(args)
    label_a, runs_a = resolve_run(args.run_a)
    label_b, runs_b = resolve_run(args.run_b)
    result = compare(
        runs_a,
        runs_b,
        level=args.level,
        alpha=args.alpha,
        resamples=args.resamples,
        seed=args.seed,
        label_a=label_a,
        label_b=label_b,
    )
    verdicts = check_gates(result, args.gate)
    out = Path(args.output) if args.output else None
    paths = write_comparison(result, out) if out is not None else {}
    if args.json:
        data: dict[str, Any] = result.as_dict()
        data["gates"] = [
            {"gate": str(v.gate), "passed": v.passed, "bound": v.bound, "verdict": v.line()}
            for v in verdicts
        ]
        data["files"] = {k: str(p) for k, p in paths.items()}
        if sequential is not None:
            data["until_decided"] = sequential
        print(json.dumps(data, indent=2))
    else:
        console = Console()
        console.print(rich_table(result))
        for bm, n in result.excluded.items():
            if n:
                console.print(f"{n} item(s) of {bm} failed in a run and are left out")
        if paths:
            print(f"Markdown: {paths['markdown']}\nHTML: {paths['html']}")
    for v in verdicts:
        print(v.line(), file=sys.stderr if args.json else sys.stdout)
    return 0 if all(v.passed for v in verdicts) else 1


def add_compare_parser(sub: Any) -> None:
    cp = sub.add_parser(
        "compare",
        help="paired comparison of two runs on the same items (CIs, tests, flips, --gate)",
    )
    cp.add_argument("run_a", help="baseline: invocation id, job id or output dir")
    cp.add_argument("run_b", help="candidate: invocation id, job id or output dir")
    cp.add_argument("--output", help="directory for comparison.md/.html/.json")
    cp.add_argument("--json", action="store_true", help="the comparison as JSON on stdout")
    cp.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="KEY>=MARGIN",
        help="e.g. 'mmlu.acc>=-0.01': exit 1 when B is significantly worse than A by more",
    )
    cp.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    cp.add_argument("--level", type=float, default=0.95, help="interval level (0.95)")
    cp.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (1000)")
    cp.add_argument("--seed", type=int, default=0, help="bootstrap/permutation seed (0)")
    cp.add_argument(
        "--until-decided",
        action="store_true",
        help="continue both runs on the same shuffled items, a round at a time, until a "
        "sequential test decides or the items run out (RUN_A/RUN_B: a job id or output dir)",
    )
    cp.add_argument(
        "--round-size", type=int, default=50, help="items added per round (--until-decided)"
    )
    cp.add_argument("--metric", default=None, help="the 0/1 score the sequential test uses")
    cp.set_defaults(func=cmd_compare)
