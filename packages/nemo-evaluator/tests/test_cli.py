"""The ``nemo-evaluator`` command line: run, ls, overrides and errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from shared_data import MISSING

sys.path.insert(0, str(Path(__file__).parent / "core"))

import evalcore_support  # noqa: F401  (registers tiny_gsm8k and tiny_arc)

from nemo_evaluator.cli import build_parser, main
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.openai_url import with_endpoint

# tiny_gsm8k reads the real gsm8k file
_NEEDS_DATA = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def test_ls_lists_benchmarks_with_endpoint_types(capsys):
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("tiny_arc "))
    assert "completions" in line and "chat" not in line
    assert "completions,chat" in next(x for x in out.splitlines() if x.startswith("tiny_gsm8k "))


@_NEEDS_DATA
def test_run_with_overrides_writes_results(tmp_path, capsys):
    with OpenAIStubServer(reply=" #### 18") as up:
        code = main(
            [
                "run",
                "--model-url",
                up.url,
                "--model-id",
                "stub-model",
                "--type",
                "tiny_gsm8k",
                "--output-dir",
                str(tmp_path),
                "-o",
                "params.limit_samples=3",
                "-o",
                "params.parallelism=2,params.max_new_tokens=16",
            ]
        )
        sent = [r.json for r in up.requests if r.json]
    assert code == 0
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["metadata"]["num_samples"] == 3
    # only doc 0's answer is 18
    assert result["tasks"]["tiny_gsm8k"]["metrics"]["exact_match"]["scores"]["strict-match"][
        "value"
    ] == pytest.approx(1 / 3)
    assert result["metadata"]["endpoint_url"] == up.url + "/v1/completions"
    assert sent[0]["max_tokens"] == 16
    assert "strict-match" in capsys.readouterr().err  # the summary table


@_NEEDS_DATA
def test_run_rescore_flag(tmp_path):
    with OpenAIStubServer(reply=" #### 18") as up:
        args = ["run", "--model-url", up.completions_url, "--model-id", "stub-model"]
        args += ["--type", "tiny_gsm8k"]
        args += ["--output-dir", str(tmp_path), "-o", "params.limit_samples=2", "-q"]
        assert main(args) == 0
        count = up.request_count
        assert main([*args, "--rescore"]) == 0
        assert up.request_count == count


def test_errors_are_one_line_with_exit_codes(tmp_path, capsys):
    assert main(["run", "--type", "tiny_gsm8k"]) == 2
    assert "run needs --model-url, --output-dir" in capsys.readouterr().err
    code = main(
        [
            "run",
            "--model-url",
            "http://127.0.0.1:9",
            "--type",
            "nope",
            "--output-dir",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "unknown benchmark 'nope'" in err and err.count("\n") == 1
    code = main(
        [
            "run",
            "--model-url",
            "http://127.0.0.1:9/v1/completions",
            "--type",
            "tiny_gsm8k",
            "--output-dir",
            str(tmp_path),
            "-o",
            "params.parallelism=0",
        ]
    )
    assert code == 1 and "parallelism" in capsys.readouterr().err
    assert main(["run", "--resume", str(tmp_path / "nothing")]) == 1
    assert "run_config.json not found" in capsys.readouterr().err


def test_full_url_and_subcommands():
    assert with_endpoint("http://h:1", "chat") == "http://h:1/v1/chat/completions"
    assert with_endpoint("http://h:1/v1/", "completions") == "http://h:1/v1/completions"
    assert with_endpoint("http://h:1/v1/completions/", "chat") == "http://h:1/v1/completions/"
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"run", "ls"} <= set(sub.choices)
