"""Run two endpoints on the same shuffled items in rounds until a sequential test decides.

::

    from nemo_evaluator.core.until_decided import RunSpec, evaluate_until_decided
    outcome = evaluate_until_decided(
        RunSpec(target_a, eval_cfg_a), RunSpec(target_b, eval_cfg_b), alpha=0.05, round_size=50
    )
    outcome.decision        # "A", "B" or None (the items ran out first)
    outcome.items_saved     # items per run that never had to be evaluated

Round ``r`` evaluates the first ``r * round_size`` items of one shuffled order
(``params.extra.order_seed``) in each run's own output directory, so the runs only grow, stay
ordinary resumable runs, and end on identical item sets (``compare`` accepts them). After
each round the discordant items of a 0/1 score feed the mixture SPRT of
:class:`nemo_evaluator.stats.SequentialTest`, whose type-I error stays below ``alpha`` for
any number of rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    EvaluationConfig,
    EvaluationTarget,
)

from ..benchmarks.registry import get_benchmark
from ..stats.paired import is_binary
from ..stats.runs import RunItems, read_task_dir
from ..stats.sequential import SequentialTest
from .errors import EvaluationConfigError
from .evaluate import evaluate
from .output import read_run_config

PREFERRED_METRICS = ("exact_match.strict-match", "acc", "acc_norm", "pass@1")


@dataclass(frozen=True)
class RunSpec:
    """One side of the comparison: its target, evaluation config and adapter config."""

    target: EvaluationTarget
    config: EvaluationConfig
    adapter: AdapterConfig | None = None

    @classmethod
    def from_dir(cls, output_dir: str | Path) -> RunSpec:
        """The run stored in ``output_dir`` (its run_config.json), to be continued."""
        stored = read_run_config(Path(output_dir))
        adapter = stored.get("adapter")
        return cls(
            target=EvaluationTarget.model_validate(stored["target"]),
            config=EvaluationConfig.model_validate(stored["config"]),
            adapter=AdapterConfig.model_validate(adapter) if adapter else None,
        )


@dataclass
class SequentialOutcome:
    metric: str
    alpha: float
    decision: str | None
    p_value: float
    items_used: int
    items_total: int
    a_only: int
    b_only: int
    rounds: list[dict[str, Any]] = field(default_factory=list)
    output_dirs: tuple[str, str] = ("", "")

    @property
    def items_saved(self) -> int:
        return self.items_total - self.items_used

    def line(self) -> str:
        verdict = (
            f"decided: {self.decision} is better"
            if self.decision
            else "not decided: the items ran out before the test could tell the runs apart"
        )
        return (
            f"{verdict} on {self.metric} after {self.items_used} of {self.items_total} items "
            f"({len(self.rounds)} rounds; {self.items_saved} items per run saved; discordant "
            f"A {self.a_only} / B {self.b_only}; always-valid p={self.p_value:.3g}, "
            f"alpha={self.alpha})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "alpha": self.alpha,
            "decision": self.decision,
            "p_value": self.p_value,
            "items_used": self.items_used,
            "items_total": self.items_total,
            "items_saved": self.items_saved,
            "a_only": self.a_only,
            "b_only": self.b_only,
            "rounds": self.rounds,
            "output_dirs": list(self.output_dirs),
        }


def _item_count(spec: RunSpec) -> int:
    params = spec.config.params
    bench = get_benchmark(spec.config.type)(params=params, data_dir=params.extra.get("data_dir"))
    return len(bench.limit_docs(bench.load_docs(), params.limit_samples))


def _round_config(spec: RunSpec, *, limit: int, order_seed: int) -> EvaluationConfig:
    params = spec.config.params
    extra = {**params.extra, "order_seed": order_seed, "quiet": True}
    return spec.config.model_copy(
        update={"params": params.model_copy(update={"limit_samples": limit, "extra": extra})}
    )


def choose_metric(run: RunItems, metric: str | None) -> str:
    """``metric`` (checked to be a 0/1 score of the run), else the first preferred one."""
    keys = sorted({k for s in run.scores.values() for k in s})
    binary = [k for k in keys if is_binary([s[k] for s in run.scores.values() if k in s])]
    if metric is not None:
        key = metric.removeprefix(f"{run.benchmark}.")
        if key not in binary:
            raise EvaluationConfigError(
                f"--until-decided needs a 0/1 score; '{metric}' is not one of {run.benchmark}'s "
                f"({', '.join(binary) or 'none'})"
            )
        return key
    for key in (*PREFERRED_METRICS, *binary):
        if key in binary:
            return key
    raise EvaluationConfigError(
        f"{run.benchmark} has no 0/1 score for a sequential test (scores: {', '.join(keys)})"
    )


def evaluate_until_decided(
    run_a: RunSpec,
    run_b: RunSpec,
    *,
    alpha: float = 0.05,
    round_size: int = 50,
    order_seed: int = 0,
    metric: str | None = None,
    on_round: Callable[[dict[str, Any]], None] | None = None,
) -> SequentialOutcome:
    """See the module docstring."""
    for spec in (run_a, run_b):
        if len(spec.config.task_types) != 1:
            raise EvaluationConfigError(
                f"--until-decided compares one benchmark; {spec.config.type!r} lists several"
            )
    if run_a.config.type != run_b.config.type:
        raise EvaluationConfigError(
            f"the runs evaluate different benchmarks ({run_a.config.type} vs {run_b.config.type})"
        )
    if Path(run_a.config.output_dir).resolve() == Path(run_b.config.output_dir).resolve():
        raise EvaluationConfigError("both runs write to one output dir; give each its own")
    if round_size < 1:
        raise EvaluationConfigError(f"round_size must be positive (got {round_size})")
    total = min(_item_count(run_a), _item_count(run_b))
    test = SequentialTest(alpha=alpha)
    rounds: list[dict[str, Any]] = []
    used, key = 0, metric or ""
    while used < total:
        used = min(used + round_size, total)
        items: list[RunItems] = []
        for spec in (run_a, run_b):
            cfg = _round_config(spec, limit=used, order_seed=order_seed)
            evaluate(target_cfg=spec.target, eval_cfg=cfg, adapter_cfg=spec.adapter)
            items.append(read_task_dir(Path(cfg.output_dir)))
        a, b = items
        key = choose_metric(a, metric)
        shared = [
            d for d in a.scores if d in b.scores and key in a.scores[d] and key in b.scores[d]
        ]
        a_only = sum(a.scores[d][key] > b.scores[d][key] for d in shared)
        b_only = sum(b.scores[d][key] > a.scores[d][key] for d in shared)
        decision = test.update(a_only=a_only, b_only=b_only)
        info = {"items": used, "a_only": a_only, "b_only": b_only, "p_value": test.p_value}
        rounds.append(info)
        if on_round is not None:
            on_round(info)
        if decision is not None:
            break
    return SequentialOutcome(
        metric=f"{run_a.config.type}.{key}",
        alpha=alpha,
        decision=test.decision,
        p_value=test.p_value,
        items_used=used,
        items_total=total,
        a_only=test.a_only,
        b_only=test.b_only,
        rounds=rounds,
        output_dirs=(run_a.config.output_dir, run_b.config.output_dir),
    )
