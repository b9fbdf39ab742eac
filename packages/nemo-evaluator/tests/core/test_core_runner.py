"""The runner's event loop: the parallelism bound, where scoring runs, callers with a loop."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import evalcore_support
import pytest
from shared_data import MISSING

from nemo_evaluator.benchmarks.base import Output, SampleScore
from nemo_evaluator.benchmarks.registry import register
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    ApiEndpoint,
    EvaluationConfig,
    EvaluationTarget,
)

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

SCORED_ON: dict[str, set[str]] = {}


@register
class ThreadNotingGsm8k(evalcore_support.TinyGsm8k):
    """tiny_gsm8k that notes which thread built the requests and which one scored."""

    name = "thread_noting_gsm8k"
    size = 12

    def build_requests(self, doc: dict[str, Any]) -> list[Any]:
        SCORED_ON.setdefault("build", set()).add(threading.current_thread().name)
        return super().build_requests(doc)

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        SCORED_ON.setdefault(self.name, set()).add(threading.current_thread().name)
        return super().score(doc, outputs)


@register
class BlockingScoreGsm8k(ThreadNotingGsm8k):
    name = "blocking_score_gsm8k"
    score_blocks = True


SEEN_AT_FIRST_SCORE: list[int] = []
UPSTREAM: list[OpenAIStubServer] = []


def _completions(server: OpenAIStubServer) -> int:
    return sum(1 for r in server.requests if r.path.endswith("/completions"))


@register
class SendNotingGsm8k(evalcore_support.TinyGsm8k):
    """tiny_gsm8k that, scoring document 0, waits up to 2 s for the upstream to have seen
    three requests and notes how many it saw."""

    name = "send_noting_gsm8k"
    size = 12

    def score(self, doc: dict[str, Any], outputs: list[Output]) -> SampleScore:
        if str(doc["doc_id"]) == "0":
            deadline = time.monotonic() + 2.0
            while _completions(UPSTREAM[0]) < 3 and time.monotonic() < deadline:
                time.sleep(0.005)
            SEEN_AT_FIRST_SCORE.append(_completions(UPSTREAM[0]))
        return super().score(doc, outputs)


class ConcurrencyProbe:
    """A stub reply that holds each request for 0.15 s and records how many overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = self.peak = self.calls = 0

    def __call__(self, prompt: str, payload: dict[str, Any]) -> str:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.15)  # long enough for every worker to have sent on a loaded machine
        with self.lock:
            self.active -= 1
        return " #### 18"


def run(url: str, out, task: str, **params: Any):
    params.setdefault("extra", {})["quiet"] = True
    return evaluate(
        EvaluationTarget(api_endpoint=ApiEndpoint(url=url, model_id="stub-model")),
        EvaluationConfig(type=task, output_dir=str(out), params=params),
        AdapterConfig(use_caching=True),
    )


@pytest.mark.parametrize("parallelism", [1, 3, 12, 20])
def test_requests_in_flight_never_exceed_parallelism(tmp_path, parallelism) -> None:
    probe = ConcurrencyProbe()
    with OpenAIStubServer(model="stub-model", reply=probe, threads=32) as gsm8k_upstream:
        result = run(
            gsm8k_upstream.completions_url, tmp_path, "thread_noting_gsm8k", parallelism=parallelism
        )
    assert result.metadata.num_samples == 12 and result.metadata.num_errors == 0
    assert probe.calls == 12
    # 12 documents: every one of them at once when the parallelism allows it
    assert probe.peak == min(parallelism, 12)


def test_scoring_runs_on_the_loop_unless_the_benchmark_blocks(gsm8k_upstream, tmp_path) -> None:
    SCORED_ON.clear()
    run(gsm8k_upstream.completions_url, tmp_path / "a", "thread_noting_gsm8k", parallelism=4)
    run(gsm8k_upstream.completions_url, tmp_path / "b", "blocking_score_gsm8k", parallelism=4)
    loop_threads = SCORED_ON["build"]
    assert loop_threads == {threading.current_thread().name}
    assert SCORED_ON["thread_noting_gsm8k"] == loop_threads
    workers = SCORED_ON["blocking_score_gsm8k"]
    assert workers and not workers & loop_threads
    assert all(name.startswith("nemo-eval") for name in workers)


def test_a_worker_sends_its_next_document_before_its_answer_is_scored(tmp_path) -> None:
    SEEN_AT_FIRST_SCORE.clear()
    first = evalcore_support.read_jsonl(evalcore_support.GSM8K_TEST, 1)[0]["question"]

    def reply(prompt: str, body: dict[str, Any]) -> str:
        # document 0 answers at once, every other one after 0.3 s: while document 0 is
        # scored the other worker's request is still held, so the only request that can
        # have reached the upstream besides the first two is the next one of document 0's
        # worker
        if first not in prompt:
            time.sleep(0.3)
        return " #### 18"

    with OpenAIStubServer(model="stub-model", reply=reply) as upstream:
        UPSTREAM[:] = [upstream]
        result = run(upstream.completions_url, tmp_path, "send_noting_gsm8k", parallelism=2)
    assert result.metadata.num_samples == 12 and result.metadata.num_errors == 0
    # two workers: the one that had document 0 sent its next document before document 0
    # was scored (scored first, the count would stay at 2: the scoring holds the loop)
    assert SEEN_AT_FIRST_SCORE == [3]
    rows = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [r["doc_id"] for r in rows] == [str(i) for i in range(12)]
    assert all(r["error"] is None for r in rows)


def test_a_caller_inside_an_event_loop_gets_the_same_result(gsm8k_upstream, tmp_path) -> None:
    plain = run(gsm8k_upstream.completions_url, tmp_path / "plain", "tiny_gsm8k", parallelism=4)

    async def notebook_cell():
        return run(gsm8k_upstream.completions_url, tmp_path / "nb", "tiny_gsm8k", parallelism=4)

    inside = asyncio.run(notebook_cell())
    assert inside.tasks == plain.tasks
    assert inside.metadata.num_cache_hits == 0  # another output dir, so another cache


def test_outputs_are_journaled_field_by_field_and_read_back_equal() -> None:
    from dataclasses import fields

    from nemo_evaluator.benchmarks.base import GenerationOutput, LoglikelihoodOutput
    from nemo_evaluator.core.runner import outputs_from_json, outputs_to_json

    outputs: list[Output] = [
        GenerationOutput(text="12\nQuestion:", finish_reason="stop"),
        GenerationOutput(text=""),
        LoglikelihoodOutput(logprob=-0.0, is_greedy=False),
        LoglikelihoodOutput(logprob=-1e-300, is_greedy=True),
    ]
    records = outputs_to_json(outputs)
    # the journal's keys, in the dataclasses' field order (the line format resume reads)
    assert [list(r) for r in records] == [[f.name for f in fields(o)] for o in outputs]
    assert records[0] == {"text": "12\nQuestion:", "finish_reason": "stop"}
    assert outputs_from_json(records) == outputs
    # a journal record is a copy: changing it leaves the output alone
    records[0]["text"] = "changed"
    assert outputs[0].text == "12\nQuestion:"
