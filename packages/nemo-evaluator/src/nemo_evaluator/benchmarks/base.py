"""What a benchmark is: a dataset loader, a request builder, an answer extractor and a scorer.

The evaluate core owns everything between requests and outputs (concurrency, retries, the
adapter chain, the journal). A benchmark never talks to the network.

Flow for one document::

    docs = bench.load_docs()                      # deterministic order, each with a "doc_id"
    reqs = bench.build_requests(doc)              # GenerationRequest | LoglikelihoodRequest
    outs = [core.run(r) for r in reqs]            # GenerationOutput | LoglikelihoodOutput
    score = bench.score(doc, outs)                # SampleScore
    tasks, groups = bench.aggregate(all_scores)   # result-schema entries
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from nvidia_eval_commons.api.api_dataclasses import ConfigParams
from nvidia_eval_commons.api.results import (
    ConfidenceInterval,
    GroupResult,
    MetricResult,
    Score,
    ScoreStats,
    TaskResult,
)

from ..stats.intervals import bootstrap_intervals, score_intervals
from .fewshot import DEFAULT_FEWSHOT_SEED


@dataclass(frozen=True)
class GenerationRequest:
    """Ask the model for text: ``messages`` for chat endpoints, ``prompt`` for completions."""

    prompt: str | None = None
    messages: tuple[dict[str, str], ...] | None = None
    stop: tuple[str, ...] = ()
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Ask for log P(continuation | context), via /v1/completions with echo and logprobs."""

    context: str
    continuation: str


Request = GenerationRequest | LoglikelihoodRequest


@dataclass(frozen=True)
class GenerationOutput:
    text: str
    finish_reason: str | None = None


@dataclass(frozen=True)
class LoglikelihoodOutput:
    logprob: float
    is_greedy: bool


Output = GenerationOutput | LoglikelihoodOutput


@dataclass(slots=True)
class SampleScore:
    """The score of one document. ``metrics`` maps metric -> score name -> value, e.g.
    ``{"exact_match": {"strict-match": 1.0, "flexible-extract": 1.0}}``."""

    doc_id: str
    metrics: dict[str, dict[str, float]]
    extracted: Any = None
    target: Any = None
    group: str | None = None
    """Sub-task of the document (e.g. the MMLU subject), for per-group aggregation."""
    extra: dict[str, Any] = field(default_factory=dict)


def mean_and_stderr(values: list[float]) -> ScoreStats:
    """Mean with the standard error of the mean, as lm-evaluation-harness computes it
    (sample standard deviation with n - 1, divided by sqrt(n))."""
    n = len(values)
    if n == 0:
        return ScoreStats(count=0)
    total = math.fsum(values)
    mean = total / n
    stddev: float | None
    stderr: float | None
    if n > 1:
        var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
        stddev = math.sqrt(var)
        stderr = stddev / math.sqrt(n)
    else:
        stddev = stderr = None
    return ScoreStats(
        count=n,
        sum=total,
        mean=mean,
        stddev=stddev,
        stderr=stderr,
        min=min(values),
        max=max(values),
    )


def aggregate_means(scores: list[SampleScore], *, num_errors: int = 0) -> dict[str, MetricResult]:
    """Mean, stderr and confidence intervals of every (metric, score) pair over ``scores``.

    The intervals are the analytic and the seeded bootstrap one, and a clustered one when
    the scores cluster (``extra["cluster"]``, e.g. repeats of one document, else ``group``).
    """
    by_pair: dict[tuple[str, str], list[float]] = {}
    clusters: dict[tuple[str, str], list[str]] = {}
    for s in scores:
        label = str(s.extra.get("cluster", s.group))
        for metric, named in s.metrics.items():
            for name, value in named.items():
                by_pair.setdefault((metric, name), []).append(float(value))
                clusters.setdefault((metric, name), []).append(label)
    out: dict[str, MetricResult] = {}
    # the pairs scored on the same items share one set of bootstrap draws
    by_size: dict[int, list[tuple[str, str]]] = {}
    for pair, values in by_pair.items():
        by_size.setdefault(len(values), []).append(pair)
    drawn = {
        pair: iv
        for pairs in by_size.values()
        for pair, iv in zip(pairs, bootstrap_intervals([by_pair[p] for p in pairs]), strict=True)
    }
    for (metric, name), values in by_pair.items():
        stats = mean_and_stderr(values)
        stats.num_errors = num_errors
        stats.intervals = [
            ConfidenceInterval(**iv.as_dict())
            for iv in score_intervals(
                values, clusters=clusters[(metric, name)], bootstrap=drawn[(metric, name)]
            )
        ]
        out.setdefault(metric, MetricResult()).scores[name] = Score(
            value=stats.mean if stats.mean is not None else 0.0, stats=stats
        )
    return out


class Benchmark(ABC):
    """Base class of every benchmark; looked up by ``name`` through ``registry.BENCHMARKS``."""

    name: ClassVar[str]
    """Registry name, e.g. ``gsm8k``."""
    endpoint_types: ClassVar[tuple[str, ...]]
    """Endpoint types it runs on: ``("completions",)``, ``("chat",)`` or both."""
    harness_task: ClassVar[str | None] = None
    """The lm-evaluation-harness task of the same definition, for comparison."""
    description: ClassVar[str] = ""
    default_num_fewshot: ClassVar[int] = 0
    default_max_new_tokens: ClassVar[int] = 256
    score_blocks: ClassVar[bool] = False
    """True when ``score`` waits on something (runs a program): the runner then calls it in a
    worker thread instead of on its event loop."""

    endpoint_type: str | None = None
    """The endpoint type of the run (``completions`` or ``chat``), set by the evaluate core
    before :meth:`load_docs`; benchmarks that build prompts differently per type read it."""

    def __init__(self, *, params: ConfigParams, data_dir: str | Path | None = None) -> None:
        self.params = params
        self.data_dir = Path(data_dir) if data_dir is not None else None

    @property
    def num_fewshot(self) -> int:
        p = self.params.num_fewshot
        return self.default_num_fewshot if p is None else p

    @property
    def max_new_tokens(self) -> int:
        p = self.params.max_new_tokens
        return self.default_max_new_tokens if p is None else p

    @property
    def fewshot_seed(self) -> int:
        """Seed of few-shot selection: ``params.seed``, else lm-eval's default 1234."""
        return DEFAULT_FEWSHOT_SEED if self.params.seed is None else self.params.seed

    def limit_docs(
        self, docs: list[dict[str, Any]], limit: int | float | None
    ) -> list[dict[str, Any]]:
        """The documents a run with ``params.limit_samples`` evaluates: the first ``limit``
        (a count), or the first ``ceil(len * limit)`` (a fraction), as lm-eval's ``--limit``.
        Benchmarks made of sub-tasks (MMLU) apply the limit per sub-task, as lm-eval does."""
        if limit is None:
            return docs
        count = math.ceil(len(docs) * limit) if isinstance(limit, float) else int(limit)
        return docs[:count]

    def describe_dataset(self) -> dict[str, Any]:
        """Where the documents came from (source, files, sha256), for result metadata;
        meaningful after :meth:`load_docs`."""
        return {}

    @abstractmethod
    def load_docs(self) -> list[dict[str, Any]]:
        """Evaluation documents in a fixed order; each has a unique string ``doc_id``."""

    def preflight(self) -> None:
        """Raise, before any request is sent, what would fail every sample (e.g. no code
        sandbox on this machine); nothing by default."""
        return None

    @abstractmethod
    def build_requests(self, doc: dict[str, Any]) -> list[Request]:
        """The requests one document needs (one generation, or one per answer choice)."""

    @abstractmethod
    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        """Score one document from the outputs of its requests, in request order."""

    def compact_score(self, score: SampleScore) -> SampleScore:
        """What :meth:`aggregate` needs of ``score`` once its sample is written to disk (a run
        keeps one per document until it aggregates): by default all but ``extracted`` and
        ``target``. A benchmark whose ``aggregate`` reads those returns ``score`` itself."""
        return replace(score, extracted=None, target=None)

    def aggregate(
        self, scores: list[SampleScore], *, num_errors: int = 0
    ) -> tuple[dict[str, TaskResult], dict[str, GroupResult]]:
        """Task (and group) results; the default is the mean and stderr of every metric."""
        return {self.name: TaskResult(metrics=aggregate_means(scores, num_errors=num_errors))}, {}
