"""Dispatch order: log-likelihood documents go out longest first within windows, generation
documents in order; every document exactly once; the outputs keep the run's order."""

from __future__ import annotations

import json
from typing import Any

import evalcore_support
import pytest
from shared_data import MISSING

from nemo_evaluator.benchmarks.registry import register
from nemo_evaluator.core.dispatch_order import dispatch_order, estimated_tokens, window_for
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.api.api_dataclasses import (
    ApiEndpoint,
    ConfigParams,
    EvaluationConfig,
    EvaluationTarget,
)

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@register
class ArcSeen(evalcore_support.TinyArc):
    """tiny_arc over 21 items (not a multiple of the windows below), one failing to build."""

    name = "arc_dispatch_probe"
    size = 21
    broken = "none"

    def build_requests(self, doc: dict[str, Any]) -> list[Any]:
        if doc["doc_id"] == self.broken:
            raise ValueError("cannot build this one")
        return super().build_requests(doc)


def _length(reqs: list[Any]) -> int:
    return max(estimated_tokens(r.context) + estimated_tokens(r.continuation) for r in reqs)


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("", 0),
        ("   ", 0),
        ("word", 1),
        (" two words", 2),
        ("Z_4 x Z_6", 7),
        ("12.5%", 5),
        ("é日本", 1),
    ],
)
def test_estimated_tokens_count_letter_runs_digits_and_marks(text: str, pieces: int) -> None:
    assert estimated_tokens(text) == pieces


@pytest.mark.parametrize("window", [1, 2, 8, 21, 64])
def test_windows_go_out_longest_first_and_each_document_once(window: int) -> None:
    bench = ArcSeen(params=ConfigParams())
    docs = bench.load_docs()
    out = list(dispatch_order(bench, docs, window))
    assert sorted(d["doc_id"] for d, _ in out) == sorted(d["doc_id"] for d in docs)
    assert len(out) == len(docs)
    for start in range(0, len(docs), window):
        chunk = out[start : start + window]
        ids = {d["doc_id"] for d, _ in chunk}
        assert ids == {d["doc_id"] for d in docs[start : start + window]}  # no doc crosses
        lengths = [_length(reqs) for _, reqs in chunk]  # type: ignore[arg-type]
        if window > 1:
            assert lengths == sorted(lengths, reverse=True)
    if window == 1:
        assert [d["doc_id"] for d, _ in out] == [d["doc_id"] for d in docs]
    for doc, reqs in out:
        assert reqs == bench.build_requests(doc)  # built once here, handed to the worker


def test_generation_keeps_its_order_and_a_failed_build_is_left_to_the_worker() -> None:
    gen = evalcore_support.TinyGsm8k(params=ConfigParams())
    docs = gen.load_docs()[:10]
    assert [d["doc_id"] for d, _ in dispatch_order(gen, docs, 4)] == [d["doc_id"] for d in docs]
    arc = ArcSeen(params=ConfigParams())
    arc.broken = arc.load_docs()[3]["doc_id"]
    out = list(dispatch_order(arc, arc.load_docs(), 8))
    first = out[:8]
    assert [reqs is None for d, reqs in first].count(True) == 1
    # a window holding a document that could not be built keeps its order
    assert [d["doc_id"] for d, _ in first] == [d["doc_id"] for d in arc.load_docs()[:8]]


@pytest.mark.parametrize(
    ("parallelism", "window"), [(1, 0), (2, 64), (8, 256), (64, 256), (256, 512)]
)
def test_the_window_fits_what_the_in_order_outputs_may_hold(parallelism: int, window: int) -> None:
    held = max(512, 4 * parallelism)  # TaskRun's limit
    assert window_for(parallelism, held) == window
    assert window + parallelism <= held


def test_outputs_stay_in_the_run_order_while_the_server_sees_longest_first(tmp_path) -> None:
    with OpenAIStubServer() as stub:
        target = EvaluationTarget(
            api_endpoint=ApiEndpoint(url=stub.completions_url, model_id=stub.model)
        )
        config = EvaluationConfig(
            type="arc_dispatch_probe", output_dir=str(tmp_path), params={"parallelism": 2}
        )
        result = evaluate(target, config)
        seen = [max(estimated_tokens(p) for p in r.json["prompt"]) for r in stub.requests if r.json]
    assert result.metadata.num_errors == 0
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").open()]
    docs = ArcSeen(params=ConfigParams()).load_docs()
    assert [r["doc_id"] for r in rows] == [d["doc_id"] for d in docs]
    assert len(seen) == len(docs)
    # window 16 at parallelism 2: the first 16 go out longest first (two workers may swap
    # neighbours on the wire, so compare the first six with the last six)
    assert min(seen[:6]) >= max(seen[10:16])
    assert seen[:16] != [max(estimated_tokens(p) for p in r) for r in _prompts(docs[:16])]


def _prompts(docs: list[dict[str, Any]]) -> list[list[str]]:
    bench = ArcSeen(params=ConfigParams())
    return [[r.context + r.continuation for r in bench.build_requests(d)] for d in docs]
