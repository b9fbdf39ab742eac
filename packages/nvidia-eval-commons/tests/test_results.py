from __future__ import annotations

import pytest

from nvidia_eval_commons.api.results import (
    EvaluationResult,
    MetricResult,
    Score,
    ScoreStats,
    TaskResult,
)


def _result() -> EvaluationResult:
    stats = ScoreStats(count=4, mean=0.75, stderr=0.25)
    return EvaluationResult(
        tasks={
            "gsm8k": TaskResult(
                metrics={
                    "exact_match": MetricResult(
                        scores={
                            "strict-match": Score(value=0.75, stats=stats),
                            "flexible-extract": Score(value=0.5, stats=stats),
                        }
                    )
                }
            ),
            "arc_easy": TaskResult(
                metrics={"acc": MetricResult(scores={"acc": Score(value=0.5, stats=stats)})}
            ),
        }
    )


def test_flat_metrics_names() -> None:
    assert _result().flat_metrics() == {
        "gsm8k.exact_match.strict-match": 0.75,
        "gsm8k.exact_match.flexible-extract": 0.5,
        "arc_easy.acc": 0.5,
    }


def test_round_trip_json() -> None:
    r = _result()
    again = EvaluationResult.model_validate_json(r.model_dump_json())
    assert again == r


def test_str_is_readable() -> None:
    assert "gsm8k.exact_match.strict-match=0.7500" in str(_result())


def test_negative_count_rejected() -> None:
    with pytest.raises(ValueError, match="count"):
        ScoreStats(count=-1)


def test_iter_scores_walks_tasks_then_groups_in_order() -> None:
    from nvidia_eval_commons.api.results import GroupResult

    r = _result()
    stats = ScoreStats(count=2)
    r.groups = {
        "gsm8k": GroupResult(
            metrics={"acc": MetricResult(scores={"acc": Score(value=1.0, stats=stats)})}
        )
    }
    rows = [(e.name, e.metric, e.score, e.label, e.key, e.is_group) for e in r.iter_scores()]
    assert rows == [
        (
            "gsm8k",
            "exact_match",
            "strict-match",
            "strict-match",
            "gsm8k.exact_match.strict-match",
            False,
        ),
        (
            "gsm8k",
            "exact_match",
            "flexible-extract",
            "flexible-extract",
            "gsm8k.exact_match.flexible-extract",
            False,
        ),
        ("arc_easy", "acc", "acc", "", "arc_easy.acc", False),
        ("gsm8k", "acc", "acc", "", "gsm8k.acc", True),
    ]
    assert EvaluationResult().flat_metrics() == {}
