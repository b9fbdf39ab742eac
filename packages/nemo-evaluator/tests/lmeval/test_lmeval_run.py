"""lm-eval tasks end to end through the evaluate core, against the loopback stub upstream."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nemo_evaluator.cli import main
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.core.journal import read_journal
from nemo_evaluator.testing import OpenAIStubServer, token_logprob, tokenize

ROWS = [
    {"question": "Capital of France?", "choices": ["Paris", "Rome", "Oslo"], "gold": 0},
    {"question": "Two plus two?", "choices": ["three", "four", "five"], "gold": 1},
    {"question": "Color of the sky?", "choices": ["green", "red", "blue"], "gold": 2},
    {"question": "Largest planet?", "choices": ["Jupiter", "Mars"], "gold": 0},
    {"question": "Frozen water?", "choices": ["steam", "ice", "mist", "fog"], "gold": 1},
]
CORPUS = "The cat sat on the mat.\nA second line of plain text\nthird\n"


def write_tasks(folder: Path) -> Path:
    """A custom multiple-choice task on a local JSONL and a perplexity task on a text file."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "quiz.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    corpus = folder / "corpus.txt"
    corpus.write_text(CORPUS)
    (folder / "quiz.yaml").write_text(
        "task: my_quiz\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: 'Q: {{question}}\\nA:'\ndoc_to_choice: '{{choices}}'\ndoc_to_target: gold\n"
        "metric_list:\n  - metric: acc\n  - metric: acc_norm\nmetadata:\n  version: 2.0\n"
    )
    (folder / "ppl.yaml").write_text(
        "task: my_ppl\ndataset_path: text\n"
        f"dataset_kwargs:\n  data_files:\n    test: {corpus}\n"
        "test_split: test\noutput_type: loglikelihood_rolling\ndoc_to_text: ''\n"
        "doc_to_target: '{{text}}'\nmetric_list:\n  - metric: word_perplexity\n"
    )
    return folder


def stub_ll(text: str) -> float:
    return sum(token_logprob(t) for t in tokenize(text))


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


def run_cli(upstream: OpenAIStubServer, task: str, out: Path, *extra: str) -> int:
    return main(
        [
            "run",
            "--model-url",
            upstream.completions_url,
            "--model-id",
            "stub-model",
            "--type",
            task,
            "--output-dir",
            str(out),
            "-q",
            *extra,
        ]
    )


def test_custom_task_yaml_and_perplexity_run_from_the_cli(upstream, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks")
    flags = ("--include-path", str(tasks), "-o", "params.extra.lm_eval_bootstrap_iters=0")
    prefix = ("-o", "params.extra.lm_eval_rolling_prefix='BOS '")
    assert run_cli(upstream, "lm-eval.my_quiz", tmp_path / "quiz", *flags) == 0
    results = json.loads((tmp_path / "quiz" / "results.json").read_text())
    acc = results["tasks"]["lm-eval.my_quiz"]["metrics"]["acc"]["scores"]["acc"]
    expected = [argmax([stub_ll(" " + c) for c in r["choices"]]) == r["gold"] for r in ROWS]
    assert acc["value"] == pytest.approx(sum(expected) / len(ROWS))
    assert acc["stats"]["count"] == len(ROWS)
    meta = results["metadata"]["extra"]["dataset"]["lm_eval"]["tasks"]["my_quiz"]
    assert meta["version"] == 2.0
    samples = [
        json.loads(x) for x in (tmp_path / "quiz" / "samples.jsonl").read_text().splitlines()
    ]
    assert [s["doc_id"] for s in samples] == [f"my_quiz/{i}" for i in range(len(ROWS))]
    assert samples[4]["prompt"]["continuations"] == [" steam", " ice", " mist", " fog"]

    assert run_cli(upstream, "lm-eval.my_ppl", tmp_path / "ppl", *flags, *prefix) == 0
    results = json.loads((tmp_path / "ppl" / "results.json").read_text())
    ppl = results["tasks"]["lm-eval.my_ppl"]["metrics"]["word_perplexity"]["scores"][
        "word_perplexity"
    ]
    lines = CORPUS.splitlines()
    # the stub's tokens are whitespace-led words: "BOS" is the context, the line the rest
    lls = [stub_ll(" " + line) for line in lines]
    words = sum(len(line.split()) for line in lines)
    assert ppl["value"] == pytest.approx(2.718281828459045 ** (-sum(lls) / words), rel=1e-6)


def test_ls_lists_lm_eval_tasks_and_user_tasks(tmp_path: Path, capsys) -> None:
    tasks = write_tasks(tmp_path / "tasks")
    assert main(["ls", "--lm-eval", "arc_e*"]) == 0
    out = capsys.readouterr().out
    assert "lm-eval.arc_easy" in out and "multiple_choice" in out and "lm-eval.gsm8k" not in out
    assert main(["ls", "--lm-eval", "my_*", "--include-path", str(tasks)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:]] == ["lm-eval.my_ppl", "lm-eval.my_quiz"]


def gsm8k_chat_reply(prompt: str, payload: dict) -> str:
    last = payload["messages"][-1]["content"] if "messages" in payload else prompt
    return " The answer is 7.\n#### 7" if "Janet" in last else " I think\n#### 0"


def test_chat_endpoint_gets_fewshot_as_messages(shared_data: Path, tmp_path: Path) -> None:
    with OpenAIStubServer(model="stub-model", reply=gsm8k_chat_reply) as chat:
        target = {"api_endpoint": {"url": chat.chat_url, "type": "chat", "model_id": "stub-model"}}
        config = {
            "type": "lm-eval.gsm8k",
            "output_dir": str(tmp_path),
            "params": {"limit_samples": 3, "extra": {"quiet": True}},
        }
        result = evaluate(target, config)
        bodies = [r.json for r in chat.requests if r.path.endswith("/chat/completions")]
    assert len(bodies) == 3 and all("prompt" not in b for b in bodies)
    messages = bodies[0]["messages"]
    # lm-eval's apply_chat_template with fewshot_as_multiturn: 5 question/answer turns + the question
    assert [m["role"] for m in messages] == ["user", "assistant"] * 5 + ["user"]
    assert messages[-1]["content"].startswith("Question: Janet")
    assert messages[1]["content"].rstrip().split("#### ")[-1].isdigit()
    assert bodies[0]["stop"] == ["Question:", "</s>", "<|im_end|>"]
    score = result.tasks["lm-eval.gsm8k"].metrics["exact_match"].scores
    assert score["strict-match"].value == 0.0  # Janet's ducks make 18, not 7
    assert score["strict-match"].stats.count == 3


def journaled(out: Path) -> list[str]:
    return list(read_journal(out / "journal.jsonl")[1])  # in the order first journaled


@pytest.mark.slow
def test_kill_9_then_resume_sends_nothing_for_journaled_docs(
    shared_data: Path, tmp_path: Path
) -> None:
    n = 30
    base = [
        "--type",
        "lm-eval.arc_easy",
        "-o",
        f"params.limit_samples={n}",
        "-o",
        "params.parallelism=2",
    ]
    with OpenAIStubServer(model="stub-model", threads=8) as up:
        reference = tmp_path / "reference"
        assert run_cli(up, "lm-eval.arc_easy", reference, *base[2:]) == 0
        up.latency_s = 0.1
        killed = tmp_path / "killed"
        cmd = [sys.executable, "-m", "nemo_evaluator.cli", "run", "--model-url", up.completions_url]
        cmd += ["--model-id", "stub-model", "--output-dir", str(killed), "-q", *base]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        while len(journaled(killed)) < 6:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        done = journaled(killed)
        assert 6 <= len(done) < n
        up.latency_s = 0.0
        before = len(up.requests)
        assert main(["run", "--resume", str(killed), "-q"]) == 0
        sent = [r.json for r in up.requests[before:] if r.json and r.json.get("echo")]
    # one batched echo request per remaining document, none for a journaled one
    assert len(sent) == n - len(done)
    docs = {
        json.loads(x)["doc_id"]: json.loads(x)
        for x in (reference / "samples.jsonl").read_text().splitlines()
    }
    journaled_prompts = {docs[d]["prompt"]["context"] for d in done}
    assert not any(
        p.startswith(c) for body in sent for p in body["prompt"] for c in journaled_prompts
    )
    ref = json.loads((reference / "results.json").read_text())["tasks"]
    got = json.loads((killed / "results.json").read_text())
    assert got["tasks"] == ref
    assert got["metadata"]["extra"]["counts"]["resumed_from_journal"] == len(done)


def test_rescore_needs_no_server(shared_data: Path, tmp_path: Path) -> None:
    with OpenAIStubServer(model="stub-model") as up:
        target = {
            "api_endpoint": {
                "url": up.completions_url,
                "type": "completions",
                "model_id": "stub-model",
            }
        }
        config = {
            "type": "lm-eval.hellaswag",
            "output_dir": str(tmp_path),
            "params": {"limit_samples": 6, "extra": {"quiet": True}},
        }
        first = evaluate(target, config)
    config["params"]["extra"]["rescore"] = True  # the server is gone
    again = evaluate(target, config)
    assert again.tasks == first.tasks
    assert again.tasks["lm-eval.hellaswag"].metrics["acc"].scores["acc"].stats.count == 6
