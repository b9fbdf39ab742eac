"""``nv-eval compare``: two real runs against stub upstreams of known accuracy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemo_evaluator.benchmarks.registry import get_benchmark
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.stats import ComparisonError, compare
from nemo_evaluator.testing import GradedReply, OpenAIStubServer
from nv_eval.cli import main
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

KEY = "gsm8k.exact_match.strict-match"


def sample_answers() -> dict[str, str]:
    bench = get_benchmark("gsm8k")(params=ConfigParams(extra={"dataset": "sample"}))
    return {d["question"]: d["answer"].split("#### ")[-1].strip() for d in bench.load_docs()}


def run(url: str, out: Path, *, limit: int = 100) -> Path:
    evaluate(
        target_cfg={"api_endpoint": {"url": url, "model_id": "stub", "type": "completions"}},
        eval_cfg={
            "type": "gsm8k",
            "output_dir": str(out),
            "params": {
                "limit_samples": limit,
                "num_fewshot": 0,
                "parallelism": 8,
                "extra": {"dataset": "sample", "quiet": True},
            },
        },
    )
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    answers = sample_answers()
    base = tmp_path_factory.mktemp("compare")
    weak = OpenAIStubServer(reply=GradedReply(answers, accuracy=0.4, seed=1), threads=8)
    strong = OpenAIStubServer(reply=GradedReply(answers, accuracy=0.9, seed=2), threads=8)
    with weak, strong:
        yield {
            "weak": run(weak.completions_url, base / "weak"),
            "strong": run(strong.completions_url, base / "strong"),
            "weak_short": run(weak.completions_url, base / "weak_short", limit=60),
        }


def scores(path: Path) -> dict[str, float]:
    rows = [json.loads(line) for line in (path / "samples.jsonl").open()]
    return {r["doc_id"]: r["score"]["exact_match"]["strict-match"] for r in rows}


def test_compare_matches_items_and_counts_flips(runs: dict[str, Path]) -> None:
    result = compare(runs["weak"], runs["strong"])
    m = result.metric(KEY)
    a, b = scores(runs["weak"]), scores(runs["strong"])
    assert m.items == 100
    assert m.mean_a == pytest.approx(sum(a.values()) / 100)
    assert m.mean_b == pytest.approx(sum(b.values()) / 100)
    assert sorted(m.a_only) == sorted(d for d in a if a[d] > b[d])
    assert sorted(m.b_only) == sorted(d for d in a if b[d] > a[d])
    assert m.test == "mcnemar"
    assert m.significant and m.difference > 0.3
    assert m.interval.low > 0 and m.interval.low < m.difference < m.interval.high
    assert 0 < m.mde < m.difference


def test_compare_refuses_different_item_sets(runs: dict[str, Path]) -> None:
    with pytest.raises(ComparisonError, match=r"different items \(100 vs 60; 40 only in A"):
        compare(runs["weak"], runs["weak_short"])
    assert main(["compare", str(runs["weak"]), str(runs["weak_short"])]) == 2


def test_gate_exits_1_only_when_significantly_worse(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weak, strong = str(runs["weak"]), str(runs["strong"])
    gate = f"{KEY}>=-0.01"
    assert main(["compare", weak, strong, "--gate", gate, "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"PASS {gate}" in out
    assert main(["compare", strong, weak, "--gate", gate]) == 1
    assert f"FAIL {gate}" in capsys.readouterr().out
    # a margin the regression stays within passes: B is ~0.5 worse, allowed 0.9
    assert main(["compare", strong, weak, "--gate", f"{KEY}>=-0.9"]) == 0
    assert main(["compare", weak, strong, "--gate", "nope.acc>=0"]) == 2
    assert "no metric 'nope.acc'" in capsys.readouterr().err
    html = (tmp_path / "comparison.html").read_text()
    assert "report.html#doc=" in html and "<svg" in html
    md = (tmp_path / "comparison.md").read_text()
    assert f"| {KEY} | 100 |" in md


def test_json_output(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", str(runs["weak"]), str(runs["strong"]), "--json", "--seed", "3"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    metric = next(m for m in data["metrics"] if m["metric"] == "exact_match.strict-match")
    assert metric["significant"] is True and metric["test"] == "mcnemar"
    assert metric["interval"]["seed"] == 3 and metric["interval"]["resamples"] == 1000
    assert data["settings"]["alpha"] == 0.05


def test_until_decided_continues_both_runs_and_reports_the_savings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = sample_answers()
    weak = OpenAIStubServer(reply=GradedReply(answers, accuracy=0.2, seed=5), threads=8)
    strong = OpenAIStubServer(reply=GradedReply(answers, accuracy=0.95, seed=6), threads=8)
    with weak, strong:
        a = run(weak.completions_url, tmp_path / "a", limit=100)
        b = run(strong.completions_url, tmp_path / "b", limit=100)
        for d in (a, b):  # start from the stored configs only: no finished results
            (d / "results.json").unlink()
            (d / "journal.jsonl").unlink()
        code = main(["compare", str(a), str(b), "--until-decided", "--round-size", "20", "--json"])
    data = json.loads(capsys.readouterr().out)
    seq = data["until_decided"]
    assert code == 0
    assert seq["decision"] == "B" and seq["items_total"] == 100
    assert seq["items_used"] < 100 and seq["items_saved"] == 100 - seq["items_used"]
    metric = next(m for m in data["metrics"] if m["metric"] == "exact_match.strict-match")
    assert metric["items"] == seq["items_used"]


def test_runs_named_by_invocation_and_job_ids(
    runs: dict[str, Path], nv_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nv_eval.store import Store

    ids = []
    with Store() as store:
        for name in ("weak", "strong"):
            inv, jobs = store.create_invocation(
                executor="local", output_dir=str(runs[name].parent), config={}, tasks=["gsm8k"]
            )
            store.update_job(jobs[0].id, state="success", output_dir=str(runs[name]))
            ids.append(inv.id)
    assert main(["compare", ids[0], f"{ids[1]}.0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"] == ids[0] and data["b"] == f"{ids[1]}.0"
    metric = next(m for m in data["metrics"] if m["metric"] == "exact_match.strict-match")
    assert metric["items"] == 100 and metric["significant"] is True
    assert main(["compare", ids[0], "nosuchid"]) == 2
    assert "no invocation 'nosuchid'" in capsys.readouterr().err
