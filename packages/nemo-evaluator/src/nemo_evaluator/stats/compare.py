"""``compare(run_a, run_b)``: paired comparison of two finished runs on the same items.

::

    from nemo_evaluator.stats import compare
    result = compare("runs/baseline", "runs/candidate")     # output dirs (or RunItems maps)
    for m in result.metrics:
        print(m.key, m.difference, m.interval.low, m.interval.high, m.p_value)

Items are matched by benchmark and doc id. Two runs whose item sets differ, or that read
different dataset files, are refused with the cause named. Per metric: ``mean(B) - mean(A)``
with a paired percentile-bootstrap interval, the exact McNemar test for 0/1 scores and a
paired permutation test otherwise, the minimum detectable effect, and the flip lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .intervals import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, Interval
from .paired import (
    is_binary,
    mcnemar_exact,
    minimum_detectable_effect,
    paired_bootstrap,
    permutation_test,
)
from .runs import RunItems, read_run


class ComparisonError(ConfigError):
    """Two runs that cannot be compared item by item (the message names why)."""


@dataclass
class MetricComparison:
    benchmark: str
    metric: str
    """Score key within the benchmark, e.g. ``acc`` or ``exact_match.strict-match``."""
    items: int
    mean_a: float
    mean_b: float
    interval: Interval
    """Interval of ``mean_b - mean_a``."""
    test: str
    """``mcnemar`` (0/1 scores) or ``permutation``."""
    p_value: float
    alpha: float
    mde: float
    a_only: list[str] = field(default_factory=list)
    """Items better in A than in B (for 0/1 scores: right in A, wrong in B)."""
    b_only: list[str] = field(default_factory=list)
    scores_a: Any = field(default=None, repr=False)
    """The per-item scores behind the numbers (numpy arrays, item order of A)."""
    scores_b: Any = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.benchmark}.{self.metric}"

    @property
    def difference(self) -> float:
        return self.mean_b - self.mean_a

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "metric": self.metric,
            "items": self.items,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "difference": self.difference,
            "interval": self.interval.as_dict(),
            "test": self.test,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "significant": self.significant,
            "mde": self.mde,
            "a_only": self.a_only,
            "b_only": self.b_only,
        }


@dataclass
class Comparison:
    """Everything ``compare`` found; renderers (terminal, JSON, Markdown, HTML) read this."""

    label_a: str
    label_b: str
    metrics: list[MetricComparison]
    reports: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    """benchmark -> (A's report.html, B's report.html)."""
    excluded: dict[str, int] = field(default_factory=dict)
    """benchmark -> items left out because they failed in either run."""
    settings: dict[str, Any] = field(default_factory=dict)

    def metric(self, key: str) -> MetricComparison:
        """The comparison of ``benchmark.metric[.score]``; a KeyError lists the keys."""
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(f"no metric '{key}'; compared: {', '.join(m.key for m in self.metrics)}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.label_a,
            "b": self.label_b,
            "settings": self.settings,
            "excluded": self.excluded,
            "reports": {k: [str(a), str(b)] for k, (a, b) in self.reports.items()},
            "metrics": [m.as_dict() for m in self.metrics],
        }


RunLike = str | Path | Mapping[str, RunItems]


def _load(run: RunLike) -> tuple[str, dict[str, RunItems]]:
    if isinstance(run, Mapping):
        first = next(iter(run.values()), None)
        return (str(first.directory) if first else "run"), dict(run)
    return str(run), read_run(run)


def check_same_items(a: RunItems, b: RunItems) -> None:
    """Refuse, naming the cause, when two runs of a benchmark did not see the same items."""
    fa, fb = a.dataset_fingerprint(), b.dataset_fingerprint()
    changed = sorted(n for n in fa.keys() & fb.keys() if fa[n] != fb[n])
    if changed:
        raise ComparisonError(
            f"{a.benchmark}: the runs read different versions of {changed[0]} (sha256 "
            f"{fa[changed[0]][:12]} vs {fb[changed[0]][:12]}); rerun both on one dataset"
        )
    va = (a.metadata.get("extra") or {}).get("benchmark_version")
    vb = (b.metadata.get("extra") or {}).get("benchmark_version")
    if va != vb:
        raise ComparisonError(
            f"{a.benchmark}: benchmark versions differ ({va} vs {vb}); rerun both with one version"
        )
    ids_a, ids_b = set(a.doc_ids), set(b.doc_ids)
    if ids_a != ids_b:
        only_a, only_b = sorted(ids_a - ids_b), sorted(ids_b - ids_a)
        raise ComparisonError(
            f"{a.benchmark}: the runs have different items ({len(ids_a)} vs {len(ids_b)}; "
            f"{len(only_a)} only in A, e.g. {only_a[:3]}; {len(only_b)} only in B, e.g. "
            f"{only_b[:3]}); run both with the same limit_samples and dataset"
        )


def compare_items(
    a: RunItems,
    b: RunItems,
    *,
    level: float = DEFAULT_LEVEL,
    alpha: float = 0.05,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[list[MetricComparison], int]:
    """Per shared score key, the paired comparison; and how many items were left out."""
    check_same_items(a, b)
    ids = [d for d in a.doc_ids if d in a.scores and d in b.scores]
    excluded = len(set(a.doc_ids)) - len(ids)
    keys = sorted({k for d in ids for k in a.scores[d]} & {k for d in ids for k in b.scores[d]})
    out: list[MetricComparison] = []
    for key in keys:
        pairs = [(d, a.scores[d][key], b.scores[d][key]) for d in ids if key in a.scores[d]]
        pairs = [p for p in pairs if key in b.scores[p[0]]]
        if not pairs:
            continue
        docs = [p[0] for p in pairs]
        xa = np.array([p[1] for p in pairs])
        xb = np.array([p[2] for p in pairs])
        if is_binary(xa) and is_binary(xb):
            test, p_value = "mcnemar", mcnemar_exact(xa, xb).p_value
        else:
            test, p_value = "permutation", permutation_test(xa, xb, seed=seed)
        out.append(
            MetricComparison(
                benchmark=a.benchmark,
                metric=key,
                items=len(docs),
                mean_a=float(xa.mean()),
                mean_b=float(xb.mean()),
                interval=paired_bootstrap(xa, xb, level=level, resamples=resamples, seed=seed),
                test=test,
                p_value=p_value,
                alpha=alpha,
                mde=minimum_detectable_effect(xa, xb, alpha=alpha),
                a_only=[d for d, va, vb in pairs if va > vb],
                b_only=[d for d, va, vb in pairs if vb > va],
                scores_a=xa,
                scores_b=xb,
            )
        )
    return out, excluded


def compare(
    run_a: RunLike,
    run_b: RunLike,
    *,
    level: float = DEFAULT_LEVEL,
    alpha: float = 0.05,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    label_a: str | None = None,
    label_b: str | None = None,
) -> Comparison:
    """Compare every benchmark the two runs share (see the module docstring)."""
    if not 0.0 < alpha < 1.0:
        raise ComparisonError(f"alpha must be between 0 and 1 (got {alpha})")
    name_a, runs_a = _load(run_a)
    name_b, runs_b = _load(run_b)
    shared = [bm for bm in runs_a if bm in runs_b]
    if not shared:
        raise ComparisonError(
            f"the runs share no benchmark (A: {', '.join(sorted(runs_a))}; B: "
            f"{', '.join(sorted(runs_b))}); compare runs of the same benchmarks"
        )
    result = Comparison(
        label_a=label_a or name_a,
        label_b=label_b or name_b,
        metrics=[],
        settings={"level": level, "alpha": alpha, "resamples": resamples, "seed": seed},
    )
    for bm in shared:
        metrics, excluded = compare_items(
            runs_a[bm], runs_b[bm], level=level, alpha=alpha, resamples=resamples, seed=seed
        )
        result.metrics.extend(metrics)
        result.excluded[bm] = excluded
        result.reports[bm] = (runs_a[bm].report_html, runs_b[bm].report_html)
    return result
