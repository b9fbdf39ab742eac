"""lm-eval tasks build the same requests and scores as the native benchmarks (no server)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nemo_evaluator.benchmarks import get_benchmark
from nemo_evaluator.benchmarks.base import (
    GenerationOutput,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
)
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.lm_eval import LmEvalTaskError
from nvidia_eval_commons.api.api_dataclasses import ConfigParams


def pair(native: str, task: str, **params):
    p = ConfigParams(**params)
    ours = get_benchmark(native)(params=p)
    theirs = get_benchmark(f"lm-eval.{task}")(params=p)
    ours.endpoint_type = theirs.endpoint_type = "completions"
    n = params.get("limit_samples")
    return ours, ours.limit_docs(ours.load_docs(), n), theirs, theirs.load_docs()


@pytest.mark.parametrize(
    ("native", "task", "params"),
    [
        ("arc_easy", "arc_easy", {"limit_samples": 25}),
        ("hellaswag", "hellaswag", {"limit_samples": 25}),
        (
            "mmlu",
            "mmlu_anatomy",
            {"limit_samples": 25, "num_fewshot": 5, "extra": {"subjects": ["anatomy"]}},
        ),
        ("gsm8k", "gsm8k", {"limit_samples": 25}),  # both 5-shot, lm-eval's sampler and seed
    ],
)
def test_requests_equal_the_native_benchmarks(shared_data: Path, native, task, params) -> None:
    ours, ours_docs, theirs, their_docs = pair(native, task, **params)
    assert len(their_docs) == len(ours_docs) == params["limit_samples"]
    for a, b in zip(ours_docs, their_docs, strict=True):
        assert theirs.build_requests(b) == ours.build_requests(a), b["doc_id"]
    assert their_docs[-1]["doc_id"] == f"{task}/{params['limit_samples'] - 1}"


def test_scores_equal_the_native_benchmark_on_the_same_outputs(shared_data: Path) -> None:
    ours, ours_docs, theirs, their_docs = pair("arc_easy", "arc_easy", limit_samples=3)
    # item 0: gold A is the longest choice; raw B wins (acc 0), per character A wins (acc_norm 1)
    for lls in ((-12.0, -11.5, -14.0, -13.0), (-12.0, -13.0, -14.0, -12.5), (-5.0,) * 4):
        outs = [LoglikelihoodOutput(logprob=v, is_greedy=False) for v in lls]
        mine, other = ours.score(ours_docs[0], outs), theirs.score(their_docs[0], outs)
        assert other.metrics == mine.metrics
    assert other.target == 0 and other.group == "arc_easy"
    with pytest.raises(ValueError, match="expected 4 outputs"):
        theirs.score(their_docs[0], outs[:3])


def test_gsm8k_filters_extract_as_the_native_benchmark(shared_data: Path) -> None:
    ours, ours_docs, theirs, their_docs = pair("gsm8k", "gsm8k", limit_samples=1)
    target = ours_docs[0]["answer"].split("####")[-1].strip()
    for text in (f" so\n#### {target}", f" it is {target}.", " no answer", f" #### {target}0"):
        outs = [GenerationOutput(text=text)]
        mine, other = ours.score(ours_docs[0], outs), theirs.score(their_docs[0], outs)
        assert other.metrics == mine.metrics, text
    assert set(other.extracted) == {"strict-match", "flexible-extract"}


@pytest.mark.parametrize(("native", "task"), [("gsm8k", "gsm8k"), ("arc_easy", "arc_easy")])
def test_scoring_renders_no_template(shared_data: Path, native: str, task: str) -> None:
    """Targets and choices are rendered once, when the requests are built; scoring reads them."""
    ours, ours_docs, theirs, their_docs = pair(native, task, limit_samples=3)
    lm_task = theirs._tasks[task]
    calls: list[str] = []
    for name in ("doc_to_target", "doc_to_choice"):
        memo = getattr(lm_task, name)
        inner = memo.method
        memo.method = lambda doc, *a, _n=name, _f=inner, **k: calls.append(_n) or _f(doc, *a, **k)
    for a, b in zip(ours_docs, their_docs, strict=True):
        n = len(theirs.build_requests(b))
        outs = (
            [GenerationOutput(text=" so\n#### 18")]
            if native == "gsm8k"
            else [LoglikelihoodOutput(logprob=-float(i + 1), is_greedy=False) for i in range(n)]
        )
        assert theirs.score(b, outs).metrics == ours.score(a, outs).metrics
    assert calls == []
    seen = theirs._instances[their_docs[0]["doc_id"]][0].doc
    lm_task.doc_to_target(dict(seen))  # a copy the memo has not seen goes to lm-eval's method
    assert calls == ["doc_to_target"]


def test_group_reports_size_weighted_group_and_subtask_metrics(shared_data: Path) -> None:
    bench = get_benchmark("lm-eval.mmlu")(params=ConfigParams(limit_samples=0.02))
    bench.endpoint_type = "completions"
    docs = bench.load_docs()
    # ceil(2% of each subject): 57 subjects, e.g. abstract_algebra 100 -> 2, anatomy 135 -> 3
    assert sum(d["task"] == "mmlu_abstract_algebra" for d in docs) == 2
    assert sum(d["task"] == "mmlu_anatomy" for d in docs) == 3
    right = [LoglikelihoodOutput(-1.0, True)] + [LoglikelihoodOutput(-9.0, False)] * 3
    scores = [bench.score(d, right) for d in docs]  # answer A every time
    tasks, groups = bench.aggregate(scores)
    assert len(tasks) == 57
    assert set(groups) == {
        f"lm-eval.mmlu{s}" for s in ("", "_stem", "_other", "_social_sciences", "_humanities")
    }
    assert groups["lm-eval.mmlu"].subtasks == [
        "lm-eval.mmlu_stem",
        "lm-eval.mmlu_other",
        "lm-eval.mmlu_social_sciences",
        "lm-eval.mmlu_humanities",
    ]
    # size-weighted mean over every subject == the mean over all documents
    gold_a = [s.metrics["acc"]["acc"] for s in scores]
    acc = groups["lm-eval.mmlu"].metrics["acc"].scores["acc"]
    assert acc.value == pytest.approx(sum(gold_a) / len(gold_a))
    assert acc.stats.count == len(docs) and acc.stats.stderr is not None
    stem = groups["lm-eval.mmlu_stem"].metrics["acc"].scores["acc"]
    stem_docs = [
        s
        for s in scores
        if s.group in {t.removeprefix("lm-eval.") for t in groups["lm-eval.mmlu_stem"].subtasks}
    ]
    assert stem.value == pytest.approx(
        sum(s.metrics["acc"]["acc"] for s in stem_docs) / len(stem_docs)
    )
    meta = bench.describe_dataset()["lm_eval"]
    assert meta["tasks"]["mmlu_anatomy"]["data"]["from"] == "mmlu layout"
    assert len(meta["tasks"]["mmlu_anatomy"]["config_sha256"]) == 64


def test_unknown_task_names_the_closest(shared_data: Path) -> None:
    with pytest.raises(
        LmEvalTaskError, match=r"unknown lm-eval task 'arc_easyy'; closest: lm-eval\.arc_easy"
    ):
        get_benchmark("lm-eval.arc_easyy")(params=ConfigParams())


@pytest.mark.parametrize("task", ["humaneval", "mbpp"])
def test_tasks_that_run_model_code_are_refused(task: str) -> None:
    # lm-eval would execute the completions on the host with its own code_eval
    with pytest.raises(LmEvalTaskError, match=rf"lm-eval\.{task} runs model-written code outside"):
        get_benchmark(f"lm-eval.{task}")(params=ConfigParams())


def test_user_task_marked_unsafe_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "task: mine\ndataset_path: json\nunsafe_code: true\noutput_type: generate_until\n"
    )
    params = ConfigParams(extra={"lm_eval_include_path": str(tmp_path)})
    with pytest.raises(LmEvalTaskError, match=r"unsafe_code in mine\)"):
        get_benchmark("lm-eval.mine")(params=params)


def test_yaml_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("task: fine\ndataset_path: json\n")
    (tmp_path / "broken.yaml").write_text("task: broken\noutput_type: [unclosed\nmetric_list: []\n")
    params = ConfigParams(extra={"lm_eval_include_path": str(tmp_path)})
    with pytest.raises(LmEvalTaskError, match=r"broken\.yaml:\d+: YAML error"):
        get_benchmark("lm-eval.broken")(params=params)
    missing = ConfigParams(extra={"lm_eval_include_path": str(tmp_path / "nope")})
    with pytest.raises(LmEvalTaskError, match="is not a directory"):
        get_benchmark("lm-eval.fine")(params=missing)


def test_unreachable_dataset_names_the_override(offline, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("NEMO_EVALUATOR_DATA_DIR", raising=False)
    bench = get_benchmark("lm-eval.arc_easy")(params=ConfigParams(limit_samples=2))
    with pytest.raises(
        LmEvalTaskError,
        match=r"arc_easy: dataset allenai/ai2_arc cannot be loaded.*NEMO_EVALUATOR_DATA_DIR.*lm_eval_dataset",
    ):
        bench.load_docs()
    bench = get_benchmark("lm-eval.piqa")(params=ConfigParams(limit_samples=2))
    with pytest.raises(
        LmEvalTaskError, match=r"piqa: dataset .* cannot be loaded.*params\.extra\.lm_eval_dataset"
    ):
        bench.load_docs()


def test_loglikelihood_task_on_chat_names_the_completions_url(tmp_path: Path) -> None:
    target = {
        "api_endpoint": {
            "url": "http://127.0.0.1:9/v1/chat/completions",
            "type": "chat",
            "model_id": "m",
        }
    }
    with pytest.raises(
        ValueError, match=r"completions URL \(e\.g\. http://127\.0\.0\.1:9/v1/completions\)"
    ):
        evaluate(target, {"type": "lm-eval.hellaswag", "output_dir": str(tmp_path)})


def test_rolling_request_is_the_text_after_the_prefix(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat.\nA second line here\n")
    (tmp_path / "ppl.yaml").write_text(
        "task: tiny_ppl\ndataset_path: text\n"
        f"dataset_kwargs:\n  data_files:\n    test: {corpus}\n"
        "test_split: test\noutput_type: loglikelihood_rolling\ndoc_to_text: ''\n"
        "doc_to_target: '{{text}}'\nmetric_list:\n  - metric: word_perplexity\n  - metric: bits_per_byte\n"
    )
    params = ConfigParams(
        extra={"lm_eval_include_path": str(tmp_path), "lm_eval_bootstrap_iters": 0}
    )
    bench = get_benchmark("lm-eval.tiny_ppl")(params=params)
    assert bench.endpoint_types == ("completions",)
    docs = bench.load_docs()
    assert len(docs) == 2
    assert bench.build_requests(docs[0]) == [
        LoglikelihoodRequest("<|endoftext|>", "The cat sat on the mat.")
    ]
    first = bench.score(docs[0], [LoglikelihoodOutput(logprob=-12.0, is_greedy=False)])
    second = bench.score(docs[1], [LoglikelihoodOutput(logprob=-6.0, is_greedy=False)])
    assert first.extra["lm_eval"]["word_perplexity,none"] == (-12.0, 6)  # (ll, words)
    assert first.metrics == {}  # pairs, not per-document scores
    tasks, _ = bench.aggregate([first, second])
    metrics = tasks["lm-eval.tiny_ppl"].metrics
    # lm-eval's own definitions over the corpus: exp(-sum ll / sum words), -sum ll / bytes / ln 2
    assert metrics["word_perplexity"].scores["word_perplexity"].value == pytest.approx(
        math.exp(18 / 10)
    )
    nbytes = len(b"The cat sat on the mat.") + len(b"A second line here")
    bpb = metrics["bits_per_byte"].scores["bits_per_byte"].value
    assert bpb == pytest.approx(18 / nbytes / math.log(2))
