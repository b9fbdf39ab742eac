"""ARC on real items: prompts, label formats, acc vs acc_norm, the chat variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.benchmarks.base import (
    GenerationOutput,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
)
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

Q0 = "Which statement best explains why photosynthesis is the foundation of most food webs?"
CHOICES0 = [
    "Sunlight is the source of energy for nearly all ecosystems.",  # 59 chars, gold (A)
    "Most ecosystems are found on land instead of in water.",  # 54
    "Carbon dioxide is more available than other gases.",  # 50
    "The producers in all ecosystems are plants.",  # 43
]


def lls(*values: float) -> list[LoglikelihoodOutput]:
    return [LoglikelihoodOutput(logprob=v, is_greedy=False) for v in values]


def test_item0_requests_are_lm_eval_continuations(shared_data: Path) -> None:
    bench = get_benchmark("arc_easy")(params=ConfigParams())
    docs = bench.load_docs()
    assert len(docs) == 2376
    reqs = bench.build_requests(docs[0])
    assert reqs == [LoglikelihoodRequest(f"Question: {Q0}\nAnswer:", " " + c) for c in CHOICES0]
    assert docs[0]["gold"] == 0


def test_acc_and_acc_norm_differ_when_lengths_differ(shared_data: Path) -> None:
    bench = get_benchmark("arc_easy")(params=ConfigParams())
    doc = bench.load_docs()[0]
    # Raw: B (-11.5) wins, wrong. Per character: A -12/59=-0.2034 beats B -11.5/54=-0.2130.
    score = bench.score(doc, lls(-12.0, -11.5, -14.0, -13.0))
    assert score.metrics == {"acc": {"acc": 0.0}, "acc_norm": {"acc_norm": 1.0}}
    assert score.extracted["acc"] == 1 and score.extracted["acc_norm"] == 0
    # Raw A wins; A is the longest choice, so it also wins per character.
    score = bench.score(doc, lls(-12.0, -13.0, -14.0, -12.5))
    assert score.metrics == {"acc": {"acc": 1.0}, "acc_norm": {"acc_norm": 1.0}}
    # Ties go to the first choice, as numpy.argmax does.
    score = bench.score(doc, lls(-5.0, -5.0, -5.0, -5.0))
    assert score.extracted["acc"] == 0 and score.metrics["acc"]["acc"] == 1.0
    with pytest.raises(ValueError):
        bench.score(doc, lls(-1.0, -2.0))


def test_numeric_labels_and_five_choices(shared_data: Path) -> None:
    bench = get_benchmark("arc_easy")(params=ConfigParams())
    docs = bench.load_docs()
    numeric = docs[14]  # NYSEDREGENTS_2015_8_28: labels 1-4, answerKey 2
    assert numeric["id"] == "NYSEDREGENTS_2015_8_28"
    assert numeric["labels"] == ["1", "2", "3", "4"] and numeric["gold"] == 1
    five = docs[500]  # TIMSS_2003_4_pg35: 5 choices, answerKey B
    assert len(five["choices"]) == 5 and five["gold"] == 1
    assert len(bench.build_requests(five)) == 5
    challenge = get_benchmark("arc_challenge")(params=ConfigParams()).load_docs()
    assert len(challenge) == 1172
    assert challenge[836]["id"] == "TIMSS_1995_8_J7" and challenge[836]["gold"] == 3


def test_fewshot_from_train_with_choice_text_targets(shared_data: Path) -> None:
    bench = get_benchmark("arc_challenge")(params=ConfigParams(num_fewshot=2))
    docs = bench.load_docs()
    pool = bench._load_pool()
    i, j = docs[0]["fewshot"]
    ctx = bench.build_requests(docs[0])[0].context
    first = pool[i]
    assert ctx.startswith(
        f"Question: {first['question']}\nAnswer: {first['choices'][first['gold']]}\n\nQuestion: "
    )
    assert ctx.endswith(f"Question: {docs[0]['question']}\nAnswer:")
    assert f"\n\nQuestion: {pool[j]['question']}\nAnswer: " in ctx


def test_chat_variant_prompt_and_letter_scoring(shared_data: Path) -> None:
    bench = get_benchmark("arc_easy_chat")(params=ConfigParams())
    doc = bench.load_docs()[0]
    (req,) = bench.build_requests(doc)
    assert req.messages == (
        {
            "role": "user",
            "content": (
                "Given the following question and four candidate answers (A, B, C and D), "
                f"choose the best answer.\nQuestion: {Q0}\n"
                + "".join(f"{L}. {c}\n" for L, c in zip("ABCD", CHOICES0, strict=True))
                + 'Your response should end with "The best answer is [the_answer_letter]" '
                "where the [the_answer_letter] is one of A, B, C or D."
            ),
        },
    )
    right = bench.score(doc, [GenerationOutput(text="Sunlight drives it.\nThe best answer is A")])
    wrong = bench.score(doc, [GenerationOutput(text="The best answer is B.")])
    none = bench.score(doc, [GenerationOutput(text="Plants, mostly.")])
    assert right.metrics == {"exact_match": {"exact_match": 1.0}}
    assert (wrong.extracted, wrong.metrics["exact_match"]["exact_match"]) == ("B", 0.0)
    assert (none.extracted, none.metrics["exact_match"]["exact_match"]) == ("[invalid]", 0.0)
    five = bench.load_docs()[500]
    content = bench.build_requests(five)[0].messages[-1]["content"]
    assert "five candidate answers (A, B, C, D and E)" in content and "\nE. " in content
