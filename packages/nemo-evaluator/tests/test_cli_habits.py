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


@pytest.mark.slow
def test_export_lm_eval_layout_reads_back(tmp_path: Path, shared_data_path: Path) -> None:
    env = {"NEMO_EVALUATOR_DATA_DIR": str(shared_data_path), "NEMO_EVALUATOR_OFFLINE": "1"}
    out = tmp_path / "out"
    with OpenAIStubServer() as up:
        done = _run(
            "run",
            "--model-url",
            up.url,
            "--model-id",
            "stub-model",
            "--tasks",
            "arc_easy",
            "--limit",
            "4",
            "--output-dir",
            str(out),
            "-q",
            env=env,
        )
    assert done.returncode == 0, done.stderr
    # a sample's text may hold U+2028 raw (JSON does not escape it): it must not end the line
    samples = out / "samples.jsonl"
    records = [json.loads(x) for x in samples.read_text(encoding="utf-8").split("\n") if x]
    records[0]["prompt"]["context"] += "\u2028\u0085"
    rows = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    samples.write_text("".join(rows), encoding="utf-8")
    done = _run("export", str(out), "--format", "lm-eval", "--dest", str(tmp_path / "lm"))
    assert done.returncode == 0, done.stderr
    files = [str(p) for p in sorted((tmp_path / "lm" / "stub-model").iterdir())]
    assert done.stdout.split() == sorted(files, key=lambda f: "samples" in f)
    ours = json.loads((out / "results.json").read_text())["tasks"]["arc_easy"]["metrics"]
    try:  # lm-eval's own file helpers, when the lm-eval extra is installed
        from lm_eval.utils import (
            get_file_task_name,
            get_latest_filename,
            get_results_filenames,
            get_sample_results_filenames,
        )
    except ImportError:
        results_files = [f for f in files if "/results_" in f]
        sample_files = [f for f in files if "/samples_" in f]
        task_of = {
            Path(f).name: Path(f).name.split("_", 1)[1].rsplit("_", 1)[0] for f in sample_files
        }
    else:
        results_files = [get_latest_filename(get_results_filenames(files))]
        sample_files = get_sample_results_filenames(files)
        task_of = {Path(f).name: get_file_task_name(Path(f).name) for f in sample_files}
    (results_file,) = results_files
    data = json.loads(Path(results_file).read_text())
    row = data["results"]["arc_easy"]
    assert row["acc,none"] == ours["acc"]["scores"]["acc"]["value"]
    assert row["acc_norm_stderr,none"] == ours["acc_norm"]["scores"]["acc_norm"]["stats"]["stderr"]
    assert data["n-samples"]["arc_easy"] == {"original": 4, "effective": 4}
    assert data["config"]["model"] == "local-completions" and data["model_name"] == "stub-model"
    assert list(task_of.values()) == ["arc_easy"]
    text = Path(sample_files[0]).read_text(encoding="utf-8")
    lines = [json.loads(x) for x in text.split("\n") if x]
    assert [x["doc_id"] for x in lines] == ["0", "1", "2", "3"]
    first = lines[0]
    assert first["metrics"] == ["acc", "acc_norm"] and first["acc"] in (0.0, 1.0)
    assert len(first["arguments"]) == len(first["resps"]) == 4  # one per choice
    assert first["arguments"]["gen_args_0"]["arg_0"].startswith("Question:")
    assert first["arguments"]["gen_args_0"]["arg_0"].endswith("\u2028\u0085")


def test_ls_into_a_closed_pipe_ends_quietly_with_141() -> None:
    """``nemo-evaluator ls --json | head -0`` prints no traceback and exits as SIGPIPE would."""
    proc = subprocess.Popen(
        [str(SCRIPT), "ls", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (141, b"")
