"""GSM8K on real items: the 5-shot prompt of test item 0 and both extractors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.benchmarks.base import GenerationOutput, GenerationRequest
from nemo_evaluator.core.client import apply_stops
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

JANET = (
    "Janet\u2019s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes "
    "muffins for her friends every day with four. She sells the remainder at the farmers' market "
    "daily for $2 per fresh duck egg. How much in dollars does she make every day at the "
    "farmers' market?"
)


def make(name: str = "gsm8k", **params):
    return get_benchmark(name)(params=ConfigParams(**params))


def train_rows(shared: Path) -> list[dict]:
    return [json.loads(line) for line in (shared / "gsm8k" / "train.jsonl").open()]


def test_item0_five_shot_prompt_is_lm_eval_text(shared_data: Path) -> None:
    bench = make()
    docs = bench.load_docs()
    assert len(docs) == 1319
    # lm-eval: one random.Random(1234) per task, rnd.sample(train, 5) per doc in order.
    assert docs[0]["fewshot"] == [6374, 3610, 957, 61, 742]
    train = train_rows(shared_data)
    assert train[6374]["question"].startswith("Jen and Tyler are gymnasts practicing flips.")
    assert train[742]["question"].startswith("Brendan can cut 8 yards of grass per day")
    (req,) = bench.build_requests(docs[0])
    assert isinstance(req, GenerationRequest)
    shots = "".join(
        f"Question: {train[i]['question']}\nAnswer: {train[i]['answer']}\n\n"
        for i in (6374, 3610, 957, 61, 742)
    )
    assert req.prompt == shots + f"Question: {JANET}\nAnswer:"
    assert req.stop == ("Question:", "</s>", "<|im_end|>")
    assert req.temperature == 0.0 and req.max_tokens == 256


def test_draws_continue_across_documents_and_follow_the_seed(shared_data: Path) -> None:
    docs = make().load_docs()
    assert docs[1]["fewshot"] != docs[0]["fewshot"]
    again = make().load_docs()
    assert [d["fewshot"] for d in again[:50]] == [d["fewshot"] for d in docs[:50]]
    other = make(seed=7).load_docs()
    assert other[0]["fewshot"] != docs[0]["fewshot"]
    zero = make(num_fewshot=0)
    assert zero.build_requests(zero.load_docs()[0])[0].prompt == f"Question: {JANET}\nAnswer:"


def test_chat_variant_sends_examples_as_turns(shared_data: Path) -> None:
    bench = make("gsm8k_chat")
    docs = bench.load_docs()
    (req,) = bench.build_requests(docs[0])
    assert req.prompt is None and req.messages is not None
    assert len(req.messages) == 11
    assert [m["role"] for m in req.messages[:2]] == ["user", "assistant"]
    train = train_rows(shared_data)
    assert req.messages[0]["content"] == f"Question: {train[6374]['question']}\nAnswer:"
    assert req.messages[1]["content"] == train[6374]["answer"]
    assert req.messages[-1] == {"role": "user", "content": f"Question: {JANET}\nAnswer:"}


@pytest.mark.parametrize(
    ("response", "strict", "flexible", "em_strict", "em_flex"),
    [
        # A model answer in the few-shot format.
        (" Janet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18.\n#### 18", "18", "18", 1, 1),
        # No "####": strict fails, flexible takes the last number; "$" and "." are ignored.
        (" She has 9 eggs, so she makes $18.", "[invalid]", "$18.", 0, 1),
        # Thousands separators are ignored on both sides.
        (" So #### 18,000", "18,000", "18,000", 0, 0),
        # The last number wins for flexible-extract, the first "####" for strict.
        (" #### 18\nWait, 9 * 3 = 27", "18", "27", 1, 0),
        # Text after a stop sequence is cut (by the client, with the request's stops) first.
        (" #### 18\n\nQuestion: next one?\nAnswer: #### 5", "18", "18", 1, 1),
        # A decimal that is numerically equal still differs as a string, as in lm-eval.
        (" #### 18.00", "18.00", "18.00", 0, 0),
    ],
)
def test_strict_and_flexible_extraction_on_item0(
    shared_data: Path, response: str, strict: str, flexible: str, em_strict: int, em_flex: int
) -> None:
    bench = make()
    doc = bench.load_docs()[0]
    (request,) = bench.build_requests(doc)
    assert isinstance(request, GenerationRequest)
    text = apply_stops(response, request.stop)  # what the client hands the benchmark
    score = bench.score(doc, [GenerationOutput(text=text)])
    assert score.extracted == {"strict-match": strict, "flexible-extract": flexible}
    assert score.metrics["exact_match"] == {
        "strict-match": float(em_strict),
        "flexible-extract": float(em_flex),
    }
    assert score.target == "18"


def test_negative_and_comma_answers(shared_data: Path) -> None:
    bench = make()
    docs = bench.load_docs()
    doc = dict(docs[0], answer="Total is 1,200.\n#### 1200")
    s = bench.score(doc, [GenerationOutput(text=" It is 1,200 in total.\n#### 1,200")])
    assert s.metrics["exact_match"] == {"strict-match": 1.0, "flexible-extract": 1.0}
    doc = dict(docs[0], answer="She loses 5.\n#### -5")
    s = bench.score(doc, [GenerationOutput(text=" #### -5")])
    assert s.metrics["exact_match"]["strict-match"] == 1.0


def test_aggregate_mean_and_stderr(shared_data: Path) -> None:
    bench = make()
    docs = bench.load_docs()[:4]
    outs = [" #### 18", " #### 0", " #### 3", " #### 70000"]
    scores = [bench.score(d, [GenerationOutput(text=o)]) for d, o in zip(docs, outs, strict=True)]
    # Targets of items 0-3 are 18, 3, 70000, 540: right, wrong, wrong, wrong.
    assert [s.target for s in scores] == ["18", "3", "70000", "540"]
    tasks, groups = bench.aggregate(scores)
    score = tasks["gsm8k"].metrics["exact_match"].scores["strict-match"]
    assert score.value == pytest.approx(0.25)
    # sample stddev of [1,0,0,0] is 0.5; stderr = 0.5 / sqrt(4)
    assert score.stats.stderr == pytest.approx(0.25)
    assert groups == {}
