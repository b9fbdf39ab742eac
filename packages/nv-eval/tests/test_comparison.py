from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nv_eval.comparison import generate_comparison_report, load_result
from nvidia_eval_commons.api.results import (
    EvaluationResult,
    GroupResult,
    MetricResult,
    Score,
    ScoreStats,
    TaskResult,
)


def _result(task: str, metric: str, score: str, value: float, stderr: float) -> EvaluationResult:
    stats = ScoreStats(count=100, mean=value, stderr=stderr)
    return EvaluationResult(
        tasks={
            task: TaskResult(
                metrics={metric: MetricResult(scores={score: Score(value=value, stats=stats)})}
            )
        }
    )


@pytest.fixture
def results() -> dict[str, dict[str, EvaluationResult]]:
    return {
        "greedy": {
            "gsm8k": _result("gsm8k", "exact_match", "strict-match", 0.30, 0.046),
            "arc_easy": _result("arc_easy", "acc_norm", "acc_norm", 0.55, 0.05),
        },
        "sampled": {
            "gsm8k": _result("gsm8k", "exact_match", "strict-match", 0.22, 0.041),
            "arc_easy": _result("arc_easy", "acc_norm", "acc_norm", 0.61, 0.049),
        },
    }


def test_table_has_benchmarks_by_models_with_stderr(results: dict) -> None:
    report = generate_comparison_report(results)
    assert report.models == ["greedy", "sampled"]
    assert report.rows == ["gsm8k.exact_match.strict-match", "arc_easy.acc_norm"]
    md = report.to_markdown()
    assert md.splitlines()[0] == "| benchmark | greedy | sampled |"
    assert "| gsm8k.exact_match.strict-match | **0.3000 ± 0.0460** | 0.2200 ± 0.0410 |" in md
    assert "| arc_easy.acc_norm | 0.5500 ± 0.0500 | **0.6100 ± 0.0490** |" in md
    assert report.best("arc_easy.acc_norm") == ["sampled"]


def test_only_a_significant_best_gets_the_mark(results: dict) -> None:
    report = generate_comparison_report(results)
    # 0.30 +- 0.046 vs 0.22 +- 0.041: z = 1.30, and 0.61 vs 0.55: z = 0.86: noise
    assert "▲" not in report.to_markdown()
    assert report.significant_best("gsm8k.exact_match.strict-match") is None
    # 0.61 +- 0.01 vs 0.55 +- 0.02: z = 2.68 > 1.96
    results["sampled"]["arc_easy"] = _result("arc_easy", "acc_norm", "acc_norm", 0.61, 0.01)
    results["greedy"]["arc_easy"] = _result("arc_easy", "acc_norm", "acc_norm", 0.55, 0.02)
    report = generate_comparison_report(results)
    assert "| arc_easy.acc_norm | 0.5500 ± 0.0200 | **0.6100 ± 0.0100 ▲** |" in report.to_markdown()
    assert report.to_json()["rows"][1]["significantly_best"] == "sampled"
    assert "0.6100 ± 0.0100 ▲" in report.to_html()
    # either side of z = 1.96
    results["greedy"]["arc_easy"] = _result("arc_easy", "acc_norm", "acc_norm", 0.585, 0.0)
    report = generate_comparison_report(results)  # z = 0.025 / 0.01 = 2.5 > 1.96
    assert report.significant_best("arc_easy.acc_norm") == "sampled"
    results["greedy"]["arc_easy"] = _result("arc_easy", "acc_norm", "acc_norm", 0.591, 0.0)
    report = generate_comparison_report(results)  # z = 0.019 / 0.01 = 1.9 < 1.96
    assert report.significant_best("arc_easy.acc_norm") is None


def test_ties_are_ties(results: dict) -> None:
    results["sampled"]["gsm8k"] = _result("gsm8k", "exact_match", "strict-match", 0.30, 0.01)
    # equal at the shown precision (4 decimals) is a tie too
    results["third"] = {"gsm8k": _result("gsm8k", "exact_match", "strict-match", 0.300004, 0.02)}
    report = generate_comparison_report(results)
    assert report.best("gsm8k.exact_match.strict-match") == ["greedy", "sampled", "third"]
    row = next(x for x in report.to_markdown().splitlines() if x.startswith("| gsm8k"))
    assert row.count("**") == 6
    # one model alone is nobody's best
    assert generate_comparison_report({"a": results["greedy"]}).best("arc_easy.acc_norm") == []


def _mmlu(value: float) -> EvaluationResult:
    def metrics(v: float) -> dict:
        return {
            "acc": MetricResult(
                scores={"acc": Score(value=v, stats=ScoreStats(count=9, stderr=0.01))}
            )
        }

    subjects = [f"mmlu_s{i:02d}" for i in range(57)]
    return EvaluationResult(
        tasks={s: TaskResult(metrics=metrics(value)) for s in subjects},
        groups={
            "mmlu_stem": GroupResult(metrics=metrics(value), subtasks=subjects[:30]),
            "mmlu_other": GroupResult(metrics=metrics(value), subtasks=subjects[30:]),
            "mmlu": GroupResult(
                metrics=metrics(value + 0.01), subtasks=["mmlu_stem", "mmlu_other"]
            ),
        },
    )


def test_groups_fold_into_their_parent_with_the_headline_first() -> None:
    three = {
        f"model-{k}": {
            "mmlu": _mmlu(0.25 + k / 100),
            "gsm8k": _result("gsm8k", "exact_match", "strict-match", 0.3, 0.04),
        }
        for k in range(3)
    }
    report = generate_comparison_report(three)
    assert report.rows == ["mmlu.acc", "gsm8k.exact_match.strict-match"]
    assert report.folded["mmlu.acc"] == 59
    full = generate_comparison_report(three, all_scores=True)
    assert full.rows[:3] == ["mmlu.acc", "mmlu_stem.acc", "mmlu_s00.acc"]
    assert len(full.rows) == 61 and full.depth["mmlu_s00.acc"] == 2


def test_three_models_fit_80_columns_without_empty_cells() -> None:
    from rich.console import Console

    three = {
        f"model-{k}": {
            "mmlu": _mmlu(0.25 + k / 100),
            "gsm8k": _result("gsm8k", "exact_match", "strict-match", 0.3 + k / 10, 0.046),
        }
        for k in range(3)
    }
    console = Console(record=True, width=80)
    generate_comparison_report(three).print(console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for k in range(3):
        assert f"model-{k}" in text and f"{0.26 + k / 100:.4f}" in text
    assert text.count("± 0.0100") == 3 and text.count("± 0.0460") == 3
    assert "mmlu.acc (+59 folded)" in text
    # seven models do not fit as columns: one line per benchmark and model, nothing is cut
    seven = {
        f"model-{k}": {"gsm8k": _result("gsm8k", "exact_match", "strict-match", 0.1 * k, 0.046)}
        for k in range(7)
    }
    console = Console(record=True, width=80)
    generate_comparison_report(seven).print(console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.count("± 0.0460") == 7 and text.count("0.6000 ± 0.0460") == 1
    assert all(f"model-{k} " in text for k in range(7))


def test_reads_results_files_and_directories(tmp_path: Path, results: dict) -> None:
    for model, per in results.items():
        for task, res in per.items():
            d = tmp_path / model / task
            d.mkdir(parents=True)
            (d / "results.json").write_text(res.model_dump_json())
    loaded = {m: {t: tmp_path / m / t for t in per} for m, per in results.items()}
    report = generate_comparison_report(loaded)
    assert report.cell("sampled", "gsm8k.exact_match.strict-match").value == pytest.approx(0.22)
    assert load_result(tmp_path / "greedy" / "gsm8k") == results["greedy"]["gsm8k"]
    with pytest.raises(FileNotFoundError, match=r"no results\.json"):
        load_result(tmp_path)


def test_missing_cell_shows_a_dash(results: dict) -> None:
    del results["sampled"]["arc_easy"]
    md = generate_comparison_report(results).to_markdown()
    assert md.splitlines()[-1] == "| arc_easy.acc_norm | 0.5500 ± 0.0500 | - |"
    # the only value of a row is not marked best


def test_html_is_self_contained_with_a_bar_per_cell(tmp_path: Path, results: dict) -> None:
    report = generate_comparison_report(results)
    paths = report.write(tmp_path)
    page = paths["html"].read_text()
    assert "<svg" in page and page.count("<rect ") == 4
    assert not re.search(r"(src|href)=[\"']?https?:", page)
    assert "<script" not in page
    data = json.loads(paths["json"].read_text())
    assert len(data["cells"]) == 4


def test_terminal_rendering(results: dict) -> None:
    from rich.console import Console

    console = Console(record=True, width=140)
    generate_comparison_report(results).print(console)
    text = console.export_text()
    assert "greedy" in text and "0.6100 ± 0.0490" in text


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="needs Debian's chromium for headless rendering (apt-get install chromium)",
)
def test_html_renders_in_headless_chromium(tmp_path: Path, results: dict) -> None:
    page = generate_comparison_report(results).write(tmp_path)["html"]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1000,700",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
