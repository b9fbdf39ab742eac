"""A real ``nemo-evaluator run`` subprocess killed with SIGKILL or SIGINT mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shared_data import MISSING

from nemo_evaluator.core.journal import read_progress

# These tests read the real gsm8k and ARC files through the tiny benchmarks.
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

CLI = Path(__file__).parent / "evalcore_cli.py"
N = 40


def run_cmd(gsm8k_upstream, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(CLI),
        "run",
        "--model-url",
        gsm8k_upstream.url,
        "--model-id",
        "stub-model",
        "--type",
        "tiny_gsm8k",
        "--endpoint-type",
        "completions",
        "--output-dir",
        str(out),
        "-o",
        f"params.limit_samples={N}",
        "-o",
        "params.parallelism=2",
        "-q",
        *extra,
    ]


def journaled(out: Path) -> int:
    return read_progress(out / "journal.jsonl")[0]


def start_and_wait(gsm8k_upstream, out: Path, at_least: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        run_cmd(gsm8k_upstream, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while journaled(out) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)
    return proc


def metrics(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())["tasks"]


@pytest.mark.slow
def test_resume_after_kill_9_gives_the_metrics_of_an_uninterrupted_run(gsm8k_upstream, tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(run_cmd(gsm8k_upstream, reference), check=True, timeout=120)

    gsm8k_upstream.latency_s = 0.05
    killed = tmp_path / "killed"
    proc = start_and_wait(gsm8k_upstream, killed, at_least=6)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done = journaled(killed)
    assert 6 <= done < N
    assert not (killed / "results.json").exists()

    gsm8k_upstream.latency_s = 0.0
    before = gsm8k_upstream.request_count
    subprocess.run(run_cmd(gsm8k_upstream, killed), check=True, timeout=120)
    assert gsm8k_upstream.request_count - before <= N - done + 2  # only what was left (+ in flight)
    assert metrics(killed) == metrics(reference)


@pytest.mark.slow
def test_ctrl_c_keeps_the_journal_and_prints_the_resume_command(gsm8k_upstream, tmp_path):
    gsm8k_upstream.latency_s = 0.05
    out = tmp_path / "run"
    proc = start_and_wait(gsm8k_upstream, out, at_least=4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert f"Resume with: nemo-evaluator run --resume {out}" in err
    saved = journaled(out)
    assert saved >= 4
    assert f"Interrupted: {saved} of {N} samples are saved in {out / 'journal.jsonl'}" in err
    gsm8k_upstream.latency_s = 0.0
    resumed = subprocess.run(
        [sys.executable, str(CLI), "run", "--resume", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads((out / "results.json").read_text())
    assert result["metadata"]["num_samples"] == N
    assert result["metadata"]["extra"]["counts"]["resumed_from_journal"] >= 4
