"""What the built-in benchmarks share: their data source and request defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from ..datasets import DataSource, resolve_source
from .base import Benchmark, GenerationOutput, LoglikelihoodOutput, Output, SampleScore
from .metrics import multiple_choice_scores


class SourcedBenchmark(Benchmark):
    """A benchmark whose files live in one family folder of the data layout."""

    family: ClassVar[str]
    """Folder of the data layout, e.g. ``gsm8k`` or ``arc``."""

    _source: DataSource | None = None

    @property
    def source(self) -> DataSource:
        if self._source is None:
            self._source = resolve_source(
                self.family, extra=self.params.extra, data_dir=self.data_dir
            )
        return self._source

    def describe_dataset(self) -> dict[str, Any]:
        return self.source.describe()

    def generation_kwargs(self, *, default_temperature: float = 0.0) -> dict[str, Any]:
        """``temperature``, ``top_p``, ``seed`` and ``max_tokens`` from the params."""
        p = self.params
        return {
            "max_tokens": self.max_new_tokens,
            "temperature": default_temperature if p.temperature is None else p.temperature,
            "top_p": p.top_p,
            "seed": p.seed,
        }


def generation_text(outputs: list[Output], *, index: int = 0) -> str:
    out = outputs[index]
    if not isinstance(out, GenerationOutput):
        raise TypeError(f"expected a GenerationOutput, got {type(out).__name__}")
    return out.text


def loglikelihoods(outputs: list[Output], expected: int) -> list[float]:
    if len(outputs) != expected:
        raise ValueError(f"expected {expected} log-likelihood outputs, got {len(outputs)}")
    values: list[float] = []
    for out in outputs:
        if not isinstance(out, LoglikelihoodOutput):
            raise TypeError(f"expected a LoglikelihoodOutput, got {type(out).__name__}")
        values.append(out.logprob)
    return values


def score_choices(doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
    """A multiple-choice document (``doc_id``, ``choices``, ``gold``) scored from one
    log-likelihood per choice: lm-eval's ``acc`` and ``acc_norm`` (ARC, HellaSwag)."""
    lls = loglikelihoods(outputs, len(doc["choices"]))
    metrics, pred, pred_norm = multiple_choice_scores(lls, doc["choices"], doc["gold"])
    return SampleScore(
        doc_id=doc["doc_id"],
        metrics=metrics,
        extracted={"acc": pred, "acc_norm": pred_norm, "loglikelihoods": lls},
        target=doc["gold"],
    )
