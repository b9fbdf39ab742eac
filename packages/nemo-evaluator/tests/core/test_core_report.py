"""report.html is self-contained, escapes sample text, and renders in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile

import pytest

from nemo_evaluator.core.report import render_report
from nvidia_eval_commons.api.results import (
    EvaluationResult,
    MetricResult,
    RunMetadata,
    Score,
    ScoreStats,
    TaskResult,
)


def result() -> EvaluationResult:
    stats = ScoreStats(count=2, mean=0.5, stderr=0.5)
    return EvaluationResult(
        tasks={
            "gsm8k": TaskResult(
                metrics={
                    "exact_match": MetricResult(
                        scores={"strict-match": Score(value=0.5, stats=stats)}
                    )
                }
            )
        },
        metadata=RunMetadata(
            task="gsm8k", model_id="m", num_samples=2, num_errors=0, duration_s=1.0
        ),
    )


SAMPLES = [
    {
        "doc_id": "0",
        "prompt": "Question: </script><script>alert(1)</script>",
        "response": "#### 18",
        "extracted": "18",
        "target": "18",
        "score": {"exact_match": {"strict-match": 1.0}},
        "error": None,
    },
    {
        "doc_id": "1",
        "prompt": "Question: two",
        "response": None,
        "extracted": None,
        "target": "3",
        "score": None,
        "error": "upstream answered HTTP 500",
    },
]


def test_report_is_self_contained_and_escapes_samples():
    page = render_report(result(), SAMPLES)
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "<link" not in page
    # the embedded JSON cannot close its script tag
    data = page.split('id="samples-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)[0]["prompt"].startswith("Question: </script>")
    assert page.count("<script") == 2


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    page.write_text(render_report(result(), SAMPLES), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-500:]
    # the script ran: rows were built from the embedded JSON and the count was filled in
    assert "2 of 2 samples" in dom
    assert dom.count('<tr class="ok">') == 1 and dom.count('<tr class="err">') == 1
    assert "upstream answered HTTP 500" in dom
