"""MMLU on real items: prompt, per-subject limit, category and overall groups."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.benchmarks.base import (
    GenerationOutput,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    SampleScore,
)
from nemo_evaluator.benchmarks.mmlu import CATEGORIES, SUBJECT_CATEGORY, read_subject_csv
from nemo_evaluator.datasets import MMLU_SUBJECTS
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

HEADER = "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
Q0 = (
    "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
    "A. 0\nB. 4\nC. 2\nD. 6\nAnswer:"
)


def test_categories_cover_57_subjects_as_lm_eval() -> None:
    assert sorted(SUBJECT_CATEGORY) == sorted(MMLU_SUBJECTS) and len(MMLU_SUBJECTS) == 57
    assert {c: len(s) for c, s in CATEGORIES.items()} == {
        "stem": 19,
        "humanities": 13,
        "social_sciences": 12,
        "other": 13,
    }
    assert SUBJECT_CATEGORY["anatomy"] == "stem"  # lm-eval's mapping (not simple-evals')


def test_zero_shot_prompt_of_abstract_algebra_0(shared_data: Path) -> None:
    bench = get_benchmark("mmlu")(params=ConfigParams())
    docs = bench.load_docs()
    assert len(docs) == 14042
    doc = docs[0]
    assert (doc["doc_id"], doc["subject"], doc["gold"]) == (
        "abstract_algebra/0",
        "abstract_algebra",
        1,
    )
    assert bench.build_requests(doc) == [
        LoglikelihoodRequest(HEADER + Q0, " " + letter) for letter in "ABCD"
    ]
    score = bench.score(doc, [LoglikelihoodOutput(v, False) for v in (-3.0, -1.0, -2.0, -4.0)])
    assert score.metrics == {"acc": {"acc": 1.0}} and score.group == "abstract_algebra"


def test_five_shot_uses_first_dev_rows(shared_data: Path) -> None:
    bench = get_benchmark("mmlu")(params=ConfigParams(num_fewshot=5))
    doc = bench.load_docs()[0]
    ctx = bench.build_requests(doc)[0].context
    dev = bench.dev("abstract_algebra")
    assert ctx.startswith(
        HEADER + "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\n"
        "A. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n"
    )
    assert ctx.endswith("\n\n" + Q0) and ctx.count("\nAnswer:") == 6
    # Dev answers B, B, C (True, False), A (True, True), A (characteristic 0), by hand.
    assert [d["gold"] for d in dev] == [1, 1, 2, 0, 0]


def test_limit_applies_per_subject(shared_data: Path) -> None:
    bench = get_benchmark("mmlu")(params=ConfigParams())
    docs = bench.load_docs()
    limited = bench.limit_docs(docs, 2)
    assert len(limited) == 2 * 57
    assert {d["subject"] for d in limited} == set(MMLU_SUBJECTS)
    frac = bench.limit_docs(docs, 0.01)  # ceil per subject, as lm-eval --limit 0.01
    assert len([d for d in frac if d["subject"] == "abstract_algebra"]) == 1
    assert len([d for d in frac if d["subject"] == "professional_law"]) == math.ceil(15.34)


def _scores(values: dict[str, list[float]]) -> list[SampleScore]:
    return [
        SampleScore(doc_id=f"{s}/{i}", metrics={"acc": {"acc": v}}, group=s)
        for s, vs in values.items()
        for i, v in enumerate(vs)
    ]


def test_groups_are_size_weighted_with_pooled_stderr() -> None:
    bench = get_benchmark("mmlu")(params=ConfigParams())
    values = {
        "abstract_algebra": [1, 0, 1, 1],  # stem
        "anatomy": [0, 0],  # stem
        "philosophy": [1, 1, 0],  # humanities
        "sociology": [1, 0],  # social sciences
    }
    tasks, groups = bench.aggregate(_scores(values), num_errors=2)
    assert set(tasks) == {f"mmlu_{s}" for s in values}
    assert tasks["mmlu_abstract_algebra"].metrics["acc"].scores["acc"].value == 0.75
    assert set(groups) == {"mmlu", "mmlu_stem", "mmlu_humanities", "mmlu_social_sciences"}
    stem = groups["mmlu_stem"].metrics["acc"].scores["acc"]
    assert stem.value == pytest.approx(3 / 6)  # micro: (3 + 0) / (4 + 2), not (0.75 + 0) / 2
    assert stem.stats.count == 6
    # pooled: sqrt(((4-1)*se1^2*4 + (2-1)*se2^2*2) / (6-2) / 6); se1 = 0.5/sqrt(4), se2 = 0
    se1 = 0.5 / 2
    assert stem.stats.stderr == pytest.approx(math.sqrt((3 * se1**2 * 4) / 4 / 6))
    overall = groups["mmlu"].metrics["acc"].scores["acc"]
    assert overall.value == pytest.approx(6 / 11) and overall.stats.count == 11
    assert overall.stats.num_errors == 2
    assert groups["mmlu"].subtasks == ["mmlu_stem", "mmlu_humanities", "mmlu_social_sciences"]


def test_both_csv_formats_and_bad_rows() -> None:
    shared = read_subject_csv(
        [
            ["question", "choice0", "choice1", "choice2", "choice3", "answer"],
            ["q", "a", "b", "c", "d", "2"],
        ],
        "x",
    )
    original = read_subject_csv([["q", "a", "b", "c", "d", "C"]], "x")
    assert shared == original == [{"question": "q", "choices": ["a", "b", "c", "d"], "gold": 2}]
    from nemo_evaluator.datasets import DatasetError

    with pytest.raises(DatasetError, match="row 0: answer 'E'"):
        read_subject_csv([["q", "a", "b", "c", "d", "E"]], "x")


def test_chat_variant_groups_and_letters(shared_data: Path) -> None:
    bench = get_benchmark("mmlu_chat")(params=ConfigParams(extra={"subjects": ["anatomy"]}))
    docs = bench.load_docs()
    assert len(docs) == 135
    (req,) = bench.build_requests(docs[0])
    assert req.messages[0]["role"] == "system"
    assert req.messages[0]["content"].endswith("about anatomy.")
    target = "ABCD"[docs[0]["gold"]]
    score = bench.score(docs[0], [GenerationOutput(text=f"The best answer is {target}")])
    assert score.metrics == {"exact_match": {"exact_match": 1.0}}
    tasks, groups = bench.aggregate([score])
    assert set(tasks) == {"mmlu_chat_anatomy"} and set(groups) == {"mmlu_chat", "mmlu_chat_stem"}
