"""``params.repeats``: per-repeat journal entries and seeds, pass@k, maj@k, clustered CIs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from nemo_evaluator.benchmarks.registry import get_benchmark
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.core.journal import read_progress
from nemo_evaluator.stats import pass_at_k
from nemo_evaluator.testing import GradedReply, OpenAIStubServer
from nvidia_eval_commons.api.api_dataclasses import ConfigParams

N_DOCS, REPEATS = 12, 4


def answers() -> dict[str, str]:
    bench = get_benchmark("gsm8k")(params=ConfigParams(extra={"dataset": "sample"}))
    return {d["question"]: d["answer"].split("#### ")[-1].strip() for d in bench.load_docs()}


def eval_cfg(out: Path) -> dict:
    return {
        "type": "gsm8k",
        "output_dir": str(out),
        "params": {
            "limit_samples": N_DOCS,
            "num_fewshot": 0,
            "temperature": 0.7,
            "seed": 100,
            "repeats": REPEATS,
            "parallelism": 4,
            "extra": {"dataset": "sample", "quiet": True},
        },
    }


@pytest.fixture(scope="module")
def graded_upstream():
    reply = GradedReply(answers(), accuracy=0.5, seed=3, per_request_seed=True)
    with OpenAIStubServer(reply=reply, threads=8) as server:
        yield server


def target(url: str) -> dict:
    return {"api_endpoint": {"url": url, "model_id": "stub", "type": "completions"}}


def test_repeats_give_pass_at_k_maj_at_k_and_clustered_intervals(graded_upstream, tmp_path):
    result = evaluate(
        target_cfg=target(graded_upstream.completions_url), eval_cfg=eval_cfg(tmp_path)
    )
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").open()]
    assert len(rows) == N_DOCS * REPEATS
    assert {r["doc_id"] for r in rows} == {f"{d}@{r}" for d in range(N_DOCS) for r in range(4)}
    seeds = defaultdict(set)
    for req in graded_upstream.requests:
        q = req.json["prompt"].rsplit("Question: ", 1)[-1]
        seeds[q].add(req.json["seed"])
    assert all(s == {100, 101, 102, 103} for s in seeds.values()) and len(seeds) == N_DOCS
    assert result.metadata.extra["repeats"] == {"n": 4, "seeds": [100, 101, 102, 103]}

    by_doc = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["doc_id"]):
        by_doc[r["doc_id"].split("@")[0]].append(r)
    metrics = result.tasks["gsm8k"].metrics
    strict = "strict-match"
    correct = [sum(r["score"]["exact_match"][strict] for r in v) for v in by_doc.values()]
    for k in range(1, 5):
        want = sum(pass_at_k(4, int(c), k) for c in correct) / N_DOCS
        assert metrics[f"exact_match_pass@{k}"].scores[strict].value == pytest.approx(want)
    mean = metrics["exact_match"].scores[strict].value
    assert metrics["exact_match_pass@1"].scores[strict].value == pytest.approx(mean)
    maj = 0
    for v in by_doc.values():
        votes = Counter(r["extracted"][strict] for r in v)
        top = max(votes.values())
        winner = next(r for r in v if votes[r["extracted"][strict]] == top)
        maj += winner["score"]["exact_match"][strict]
    assert metrics["exact_match_maj@4"].scores[strict].value == pytest.approx(maj / N_DOCS)
    assert 0 < mean < 1  # the stub answers half right: the numbers above are not trivial

    methods = {iv.method: iv for iv in metrics["exact_match"].scores[strict].stats.intervals}
    assert set(methods) == {"analytic", "bootstrap", "clustered"}
    assert methods["clustered"].clusters == N_DOCS
    assert methods["bootstrap"].seed == 0 and methods["bootstrap"].resamples == 1000


CLI = [sys.executable, "-m", "nemo_evaluator.cli"]


def cli_cmd(graded_upstream, out: Path) -> list[str]:
    cmd = [*CLI, "run", "--model-url", graded_upstream.url, "--model-id", "stub", "--type", "gsm8k"]
    cmd += ["--endpoint-type", "completions", "--output-dir", str(out), "-q"]
    for key, value in eval_cfg(out)["params"].items():
        if key != "extra":
            cmd += ["-o", f"params.{key}={value}"]
    return [*cmd, "-o", "params.extra.dataset=sample", "-o", "params.parallelism=1"]


@pytest.mark.slow
def test_kill_9_mid_repeat_resumes_to_identical_results(graded_upstream, tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(cli_cmd(graded_upstream, reference), check=True, timeout=120)
    graded_upstream.latency_s = 0.1
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        cli_cmd(graded_upstream, killed), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    journal = killed / "journal.jsonl"
    deadline = time.monotonic() + 60
    while read_progress(journal)[0] < 6:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done = read_progress(journal)[0]
    assert 6 <= done < N_DOCS * REPEATS
    graded_upstream.latency_s = 0.0
    subprocess.run(cli_cmd(graded_upstream, killed), check=True, timeout=120)

    def tasks(out: Path) -> dict:
        return json.loads((out / "results.json").read_text())["tasks"]

    assert tasks(killed) == tasks(reference)
