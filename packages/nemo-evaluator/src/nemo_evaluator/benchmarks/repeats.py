"""``params.repeats: N``: every document sampled N times, each repeat its own journal entry.

``Repeated(bench, repeats=N)`` wraps any benchmark. Document ``d`` becomes ``d@0`` ..
``d@N-1``; request ``i`` of repeat ``r`` is sent with seed ``base + r * len(requests) + i``
(``base`` = ``params.seed``, else 0), so repeats differ, a rerun repeats them exactly, and
resume and re-score work per repeat. Aggregation adds, per 0/1 score of the wrapped
benchmark, ``<metric>_pass@k`` for k = 1..N (the unbiased estimator) and ``<metric>_maj@k``
(the majority of the first k extracted answers), next to the mean over all repeats; every
score gets intervals clustered by document.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Hashable
from typing import Any

from nvidia_eval_commons.api.results import (
    ConfidenceInterval,
    GroupResult,
    MetricResult,
    Score,
    TaskResult,
)

from ..stats.estimators import majority, pass_at_k_array
from ..stats.intervals import score_intervals
from .base import Benchmark, GenerationRequest, Output, Request, SampleScore, mean_and_stderr

SEPARATOR = "@"


def repeat_seed(base: int | None, repeat: int, index: int, count: int) -> int:
    """The seed of request ``index`` (of ``count``) in ``repeat``."""
    return (base or 0) + repeat * count + index


class Repeated(Benchmark):
    """``bench`` with every document sampled ``repeats`` times (see the module docstring)."""

    def __init__(self, bench: Benchmark, *, repeats: int) -> None:
        super().__init__(params=bench.params, data_dir=bench.data_dir)
        if repeats < 2:
            raise ValueError(f"Repeated needs repeats >= 2 (got {repeats})")
        self.inner = bench
        self.repeats = repeats
        self.name = bench.name  # type: ignore[misc]
        self.endpoint_types = bench.endpoint_types  # type: ignore[misc]
        self.description = bench.description  # type: ignore[misc]

    # -- documents ------------------------------------------------------------------------
    def load_docs(self) -> list[dict[str, Any]]:
        return self.inner.load_docs()

    def limit_docs(
        self, docs: list[dict[str, Any]], limit: int | float | None
    ) -> list[dict[str, Any]]:
        """The wrapped benchmark's limit on documents, then each document ``repeats`` times."""
        return [
            {"doc_id": f"{d['doc_id']}{SEPARATOR}{r}", "doc": d, "repeat": r}
            for d in self.inner.limit_docs(docs, limit)
            for r in range(self.repeats)
        ]

    def describe_dataset(self) -> dict[str, Any]:
        return self.inner.describe_dataset()

    def preflight(self) -> None:
        self.inner.preflight()

    def seeds(self) -> list[int]:
        """The seed of each repeat's first request (recorded in the results)."""
        return [repeat_seed(self.params.seed, r, 0, 1) for r in range(self.repeats)]

    # -- requests and scores --------------------------------------------------------------
    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        reqs = self.inner.build_requests(doc["doc"])
        base, r = self.params.seed, int(doc["repeat"])
        return [
            dataclasses.replace(req, seed=repeat_seed(base, r, i, len(reqs)))
            if isinstance(req, GenerationRequest)
            else req
            for i, req in enumerate(reqs)
        ]

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        s = self.inner.score(doc["doc"], outputs)
        s.extra = {**s.extra, "cluster": str(doc["doc"]["doc_id"]), "repeat": int(doc["repeat"])}
        s.doc_id = str(doc["doc_id"])
        return s

    # -- aggregation ----------------------------------------------------------------------
    def compact_score(self, score: SampleScore) -> SampleScore:
        """maj@k reads the extracted answers: only ``target`` goes."""
        return dataclasses.replace(score, target=None)

    def aggregate(
        self, scores: list[SampleScore], *, num_errors: int = 0
    ) -> tuple[dict[str, TaskResult], dict[str, GroupResult]]:
        tasks, groups = self.inner.aggregate(scores, num_errors=num_errors)
        by_doc: dict[str, list[SampleScore]] = defaultdict(list)
        for s in scores:
            by_doc[str(s.extra["cluster"])].append(s)
        complete = {d: sorted(v, key=lambda s: s.extra["repeat"]) for d, v in by_doc.items()}
        complete = {d: v for d, v in complete.items() if len(v) == self.repeats}
        extra = self._over_repeats(list(complete.values()), num_errors=num_errors)
        target = tasks.get(self.name) or next(iter(tasks.values()), None)
        if target is not None:
            target.metrics.update(extra)
        return tasks, groups

    def _over_repeats(
        self, docs: list[list[SampleScore]], *, num_errors: int
    ) -> dict[str, MetricResult]:
        """pass@k and maj@k per 0/1 score, over documents that have every repeat."""
        if not docs:
            return {}
        pairs = sorted({(m, n) for s in docs[0] for m, named in s.metrics.items() for n in named})
        out: dict[str, MetricResult] = {}
        for metric, name in pairs:
            values = [[s.metrics.get(metric, {}).get(name) for s in doc] for doc in docs]
            if any(v not in (0.0, 1.0) for row in values for v in row):
                continue  # pass@k and maj@k need a right/wrong score
            correct = [int(sum(row)) for row in values]  # type: ignore[arg-type]
            has_answers = any(_answer(s, name) is not None for doc in docs for s in doc)
            for k in range(1, self.repeats + 1):
                per_doc = pass_at_k_array([self.repeats] * len(docs), correct, k).tolist()
                out.setdefault(f"{metric}_pass@{k}", MetricResult()).scores[name] = _score(
                    per_doc, num_errors
                )
                if has_answers:
                    majs = [_maj(doc[:k], metric, name) for doc in docs]
                    out.setdefault(f"{metric}_maj@{k}", MetricResult()).scores[name] = _score(
                        majs, num_errors
                    )
        return out


def _answer(s: SampleScore, name: str) -> Hashable | None:
    ex = s.extracted
    value = ex.get(name) if isinstance(ex, dict) else ex
    return value if isinstance(value, Hashable) and not isinstance(value, dict) else None


def _maj(repeats: list[SampleScore], metric: str, name: str) -> float:
    """The score of the majority answer (that of the first repeat giving it); 0 when no
    repeat extracted an answer."""
    answers = [_answer(s, name) for s in repeats]
    winner = majority(answers)
    if winner is None:
        return 0.0
    first = next(s for s, a in zip(repeats, answers, strict=True) if a == winner)
    return float(first.metrics[metric][name])


def _score(values: list[float], num_errors: int) -> Score:
    stats = mean_and_stderr(values)
    stats.num_errors = num_errors
    stats.intervals = [ConfidenceInterval(**iv.as_dict()) for iv in score_intervals(values)]
    return Score(value=stats.mean if stats.mean is not None else 0.0, stats=stats)
