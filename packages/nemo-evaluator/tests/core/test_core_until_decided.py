"""``evaluate_until_decided``: two stub upstreams of known accuracy on real gsm8k items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_data import MISSING, SHARED

from nemo_evaluator.core.until_decided import RunSpec, evaluate_until_decided
from nemo_evaluator.stats import compare
from nemo_evaluator.testing import GradedReply, OpenAIStubServer
from nvidia_eval_commons.api.api_dataclasses import EvaluationConfig, EvaluationTarget

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def gsm8k_answers() -> dict[str, str]:
    rows = [json.loads(line) for line in (SHARED / "gsm8k" / "test.jsonl").open()]
    return {r["question"].strip(): r["answer"].split("#### ")[-1].strip() for r in rows}


def spec(url: str, out: Path, *, limit: int | None = None) -> RunSpec:
    return RunSpec(
        target=EvaluationTarget.model_validate(
            {"api_endpoint": {"url": url, "model_id": "stub", "type": "completions"}}
        ),
        config=EvaluationConfig.model_validate(
            {
                "type": "gsm8k",
                "output_dir": str(out),
                "params": {
                    "limit_samples": limit,
                    "num_fewshot": 0,
                    "parallelism": 8,
                    "extra": {"data_dir": str(SHARED), "quiet": True},
                },
            }
        ),
    )


def test_stops_early_and_decides_for_the_better_endpoint(tmp_path: Path) -> None:
    answers = gsm8k_answers()
    a = OpenAIStubServer(reply=GradedReply(answers, accuracy=0.60, seed=1), threads=8)
    b = OpenAIStubServer(reply=GradedReply(answers, accuracy=0.75, seed=2), threads=8)
    with a, b:
        outcome = evaluate_until_decided(
            spec(a.completions_url, tmp_path / "a"),
            spec(b.completions_url, tmp_path / "b"),
            alpha=0.05,
            round_size=50,
            order_seed=7,
        )
    assert outcome.decision == "B"
    assert outcome.metric == "gsm8k.exact_match.strict-match"
    assert outcome.items_total == 1319
    assert outcome.items_used < 700 and outcome.items_saved == 1319 - outcome.items_used
    assert outcome.items_used == 50 * len(outcome.rounds)
    assert outcome.p_value < 0.05 <= min(r["p_value"] for r in outcome.rounds[:-1])
    # both runs are ordinary runs over the same items: compare accepts them
    result = compare(tmp_path / "a", tmp_path / "b")
    m = result.metric("gsm8k.exact_match.strict-match")
    assert m.items == outcome.items_used
    assert (len(m.a_only), len(m.b_only)) == (outcome.a_only, outcome.b_only)
    assert "decided: B is better" in outcome.line()


@pytest.mark.slow
def test_equal_endpoints_are_not_decided_above_the_nominal_rate(tmp_path: Path) -> None:
    answers = gsm8k_answers()
    runs, decided = 20, 0
    for i in range(runs):
        a = OpenAIStubServer(reply=GradedReply(answers, accuracy=0.6, seed=100 + i), threads=8)
        b = OpenAIStubServer(reply=GradedReply(answers, accuracy=0.6, seed=200 + i), threads=8)
        with a, b:
            outcome = evaluate_until_decided(
                spec(a.completions_url, tmp_path / f"a{i}", limit=200),
                spec(b.completions_url, tmp_path / f"b{i}", limit=200),
                alpha=0.05,
                round_size=50,
                order_seed=i,
            )
        assert outcome.items_total == 200
        decided += outcome.decision is not None
        if outcome.decision is None:
            assert outcome.items_used == 200 and len(outcome.rounds) == 4
    assert decided / runs <= 0.05
