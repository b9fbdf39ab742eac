"""``nemo-evaluator`` as users type it, through its console script in a subprocess.

``--version``; long options never matched by prefix; lm-eval's spellings (``--tasks``,
``--limit``, ``--num-fewshot``, ``--output_path``); ``--json`` puts results and listings on
stdout for scripts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.api.results import RESULTS_SCHEMA_VERSION

SCRIPT = Path(sys.executable).with_name("nemo-evaluator")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    done = _run("--version")
    assert done.returncode == 0 and done.stdout.startswith("nemo-evaluator 0.")


def test_prefix_of_a_long_option_is_refused_not_guessed(tmp_path: Path) -> None:
    # --typ used to be taken as --type and then ran every sample
    done = _run("run", "--model-url", "http://127.0.0.1:9", "--typ", "gsm8k")
    assert done.returncode == 2
    assert "unrecognized arguments: --typ gsm8k" in done.stderr


def test_limit_that_is_not_a_number_is_refused() -> None:
    done = _run("run", "--limit", "five")
    assert done.returncode == 2 and "expected a number of samples" in done.stderr


def test_ls_json_lists_every_benchmark_on_stdout() -> None:
    done = _run("ls", "--json")
    assert done.returncode == 0, done.stderr
    listing = {row["name"]: row for row in json.loads(done.stdout)}
    assert listing["arc_easy"]["endpoint_types"] == ["completions"]
    assert listing["gsm8k"]["harness_task"] == "gsm8k"
    assert listing["gsm8k_chat"]["endpoint_types"] == ["chat"]
    assert (
        listing["gsm8k_chat"]["harness_task"] is None
        or "gsm8k" in listing["gsm8k_chat"]["harness_task"]
    )


def test_lm_eval_spellings_and_results_on_stdout(tmp_path: Path, shared_data_path: Path) -> None:
    env = {"NEMO_EVALUATOR_DATA_DIR": str(shared_data_path), "NEMO_EVALUATOR_OFFLINE": "1"}
    with OpenAIStubServer(reply=" #### 18") as up:
        done = _run(
            "run",
            "--model-url",
            up.url,
            "--model-id",
            "stub-model",
            "--tasks",
            "gsm8k",
            "--limit",
            "3",
            "--num_fewshot",
            "1",
            "--output_path",
            str(tmp_path / "out"),
            "--json",
            env=env,
        )
        prompts = [r.json["prompt"] for r in up.requests if r.json]
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout holds the results and nothing else
    assert result["schema_version"] == RESULTS_SCHEMA_VERSION
    assert result["metadata"]["num_samples"] == 3 == len(prompts)
    assert result["metadata"]["config"]["config"]["params"]["num_fewshot"] == 1
    # one few-shot example: two "Question:" blocks per prompt, not zero, not eight
    assert all(p.count("Question:") == 2 for p in prompts)
    assert (tmp_path / "out" / "results.json").is_file()


@pytest.mark.parametrize(("text", "want"), [("1", 1), ("0.5", 0.5), ("2.0", 2)])
def test_limit_reads_counts_and_fractions(text: str, want: float) -> None:
    from nemo_evaluator.cli import build_parser

    args = build_parser().parse_args(["run", "--limit", text])
    assert args.limit == want and type(args.limit) is type(want)
