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


def test_table_has_models_by_benchmarks_with_stderr(results: dict) -> None:
    report = generate_comparison_report(results)
    assert report.models == ["greedy", "sampled"]
    assert report.columns == ["gsm8k.exact_match.strict-match", "arc_easy.acc_norm"]
    md = report.to_markdown()
    assert "| greedy | **0.3000 ± 0.0460** | 0.5500 ± 0.0500 |" in md
    assert "| sampled | 0.2200 ± 0.0410 | **0.6100 ± 0.0490** |" in md
    assert report.best("arc_easy.acc_norm") == "sampled"


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
    assert "| sampled | **0.2200 ± 0.0410** | - |" not in md  # greedy is best on gsm8k
    assert md.splitlines()[-1].endswith("| - |")


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
