"""Boundaries the evaluate core must keep: each test fails when one rule is quietly changed.

- the error budget rounds down (``floor(n * fraction)``), never up;
- a fractional ``limit_samples`` rounds up, as lm-eval's ``--limit``;
- the client cuts at every stop sequence, also those past the four the API accepts;
- a run whose first samples all fail stops early even with a generous error budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nemo_evaluator.benchmarks.base import (
    Benchmark,
    GenerationOutput,
    GenerationRequest,
    SampleScore,
)
from nemo_evaluator.benchmarks.registry import BENCHMARKS
from nemo_evaluator.core.errors import TooManyErrorsError
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.core.journal import JOURNAL_NAME, read_journal
from nemo_evaluator.core.runner import allowed_errors
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

# the API takes four stops; the fifth is only applied by our client
_STOPS = ("<s1>", "<s2>", "<s3>", "<s4>", " END")


class StopBench(Benchmark):
    name = "regression_stops"
    endpoint_types = ("completions",)

    def load_docs(self) -> list[dict[str, Any]]:
        return [{"doc_id": str(i), "target": "42"} for i in range(30)]

    def build_requests(self, doc: dict[str, Any]) -> list[GenerationRequest]:
        return [GenerationRequest(prompt=f"q{doc['doc_id']}", stop=_STOPS, max_tokens=8)]

    def score(self, doc: dict[str, Any], outputs: list[Any]) -> SampleScore:
        out = outputs[0]
        text = out.text if isinstance(out, GenerationOutput) else ""
        return SampleScore(
            doc_id=doc["doc_id"],
            metrics={"exact_match": {"exact_match": float(text.strip() == doc["target"])}},
            extracted=text,
        )


@pytest.fixture(autouse=True)
def _registered() -> Any:
    BENCHMARKS.register(StopBench)
    yield
    BENCHMARKS.unregister(StopBench.name)


def _run(url: str, out: Path, **params: Any) -> Any:
    return evaluate(
        {"api_endpoint": {"url": f"{url}/v1/completions", "model_id": "stub-model"}},
        {
            "type": "regression_stops",
            "output_dir": str(out),
            "params": {"max_retries": 0, "extra": {"quiet": True}, **params},
        },
    )


@pytest.mark.parametrize(
    ("total", "fraction", "allowed"),
    [(10, 0.25, 2), (8, 0.25, 2), (3, 0.25, 0), (4, 0.25, 1), (10, 0.0, 0), (10, 1.0, 10)],
)
def test_the_error_budget_rounds_down(total: int, fraction: float, allowed: int) -> None:
    assert allowed_errors(total, fraction) == allowed


@pytest.mark.parametrize(
    ("limit", "count"), [(0.25, 3), (0.05, 1), (0.5, 5), (1.0, 10), (3, 3), (0.999, 10)]
)
def test_a_fractional_limit_rounds_up(limit: float, count: int) -> None:
    bench = StopBench(params=ConfigParams())
    docs = [{"doc_id": str(i)} for i in range(10)]
    assert len(bench.limit_docs(docs, limit)) == count


def test_the_client_cuts_at_a_stop_the_api_never_saw(tmp_path: Path) -> None:
    with OpenAIStubServer(reply=" 42 END and more") as up:
        result = _run(up.url, tmp_path, limit_samples=2)
        sent = [r.json for r in up.requests if r.json]
    assert all(s["stop"] == list(_STOPS[:4]) for s in sent)
    assert (
        result.tasks["regression_stops"].metrics["exact_match"].scores["exact_match"].value == 1.0
    )


def test_a_run_whose_first_samples_all_fail_stops_early(tmp_path: Path) -> None:
    with OpenAIStubServer() as up:
        up.fail(status=500, times=1000)
        with pytest.raises(TooManyErrorsError, match="first 10 samples all failed"):
            _run(up.url, tmp_path, extra={"quiet": True, "max_error_fraction": 1.0})
    _, entries = read_journal(tmp_path / JOURNAL_NAME)
    assert len(entries) == 10  # and no sample after them was sent
