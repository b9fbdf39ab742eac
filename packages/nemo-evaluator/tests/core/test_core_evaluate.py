"""evaluate() end to end against the loopback OpenAI-compatible stub upstream."""

from __future__ import annotations

import json

import evalcore_support
import pytest
import yaml
from evalcore_support import expected_strict_match
from shared_data import MISSING

from nemo_evaluator.core.errors import EvaluationConfigError, TooManyErrorsError
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.testing import token_logprob, tokenize
from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    ApiEndpoint,
    EvaluationConfig,
    EvaluationTarget,
)

# These tests read the real gsm8k and ARC files through the tiny benchmarks.
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def target(gsm8k_upstream, kind="completions", model_id="stub-model", **kw):
    url = gsm8k_upstream.completions_url if kind == "completions" else gsm8k_upstream.chat_url
    return EvaluationTarget(api_endpoint=ApiEndpoint(url=url + "/", model_id=model_id, **kw))


def config(out, task="tiny_gsm8k", **params):
    params.setdefault("extra", {}).setdefault("quiet", True)
    return EvaluationConfig(type=task, output_dir=str(out), params=params)


def strict(result):
    return result.tasks["tiny_gsm8k"].metrics["exact_match"].scores["strict-match"]


def test_gsm8k_completions_end_to_end_writes_every_output(gsm8k_upstream, tmp_path):
    result = evaluate(target(gsm8k_upstream), config(tmp_path, parallelism=4, limit_samples=30))
    score = strict(result)
    assert score.value == pytest.approx(expected_strict_match(30))
    assert score.stats.count == 30 and score.stats.stderr is not None
    md = result.metadata
    assert (md.num_samples, md.num_errors, md.model_id) == (30, 0, "stub-model")
    assert md.token_usage["total_tokens"] > 0
    assert md.versions["nemo-evaluator"]
    for name in ("results.yml", "results.json", "samples.jsonl", "report.html", "journal.jsonl"):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "adapter_stats.json").exists()  # written by the adapter pipeline
    on_disk = yaml.safe_load((tmp_path / "results.yml").read_text())
    assert on_disk["tasks"]["tiny_gsm8k"]["metrics"]["exact_match"]["scores"]["strict-match"][
        "value"
    ] == pytest.approx(score.value)
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 30
    first = samples[0]
    assert first["prompt"].startswith("Question: Janet")
    assert "#### 19" in first["response"]  # doc 0 is answered wrong on purpose
    assert (first["extracted"], first["target"]) == ("19", "18")
    assert first["score"] == {"exact_match": {"strict-match": 0.0}}
    assert first["error"] is None and first["cache_hit"] is False and first["latency_s"] > 0
    sent = [
        r.json for r in gsm8k_upstream.requests if r.path.rstrip("/").endswith("/v1/completions")
    ]
    assert sent[0]["model"] == "stub-model" and sent[0]["max_tokens"] == 64
    assert len(sent[0]["stop"]) == 4  # the fifth stop sequence is applied on our side


def test_limit_as_fraction_chat_endpoint_and_model_id_from_the_server(gsm8k_upstream, tmp_path):
    result = evaluate(
        target(gsm8k_upstream, kind="chat", model_id=None), config(tmp_path, limit_samples=0.1)
    )
    assert result.metadata.num_samples == 4  # ceil(0.1 * 40)
    assert result.metadata.model_id == "stub-model"
    assert strict(result).value == pytest.approx(expected_strict_match(4))
    chat = [
        r.json for r in gsm8k_upstream.requests if r.path.rstrip("/").endswith("/chat/completions")
    ]
    assert chat[0]["messages"][0]["role"] == "user"


def test_loglikelihood_matches_the_offsets_computed_by_hand(gsm8k_upstream, tmp_path):
    result = evaluate(target(gsm8k_upstream), config(tmp_path, task="tiny_arc", parallelism=3))
    expected = []
    for doc in evalcore_support.read_jsonl(evalcore_support.ARC_EASY_TEST, 12):
        ctx = f"Question: {doc['question']['stem']}\nAnswer:"
        lls = []
        for choice in doc["question"]["choices"]:
            toks = tokenize(ctx + " " + choice["text"])
            pos, total = 0, 0.0
            for tok in toks:
                if pos + len(tok) > len(ctx):
                    total += token_logprob(tok)
                pos += len(tok)
            lls.append(total)
        labels = [c["label"] for c in doc["question"]["choices"]]
        expected.append(float(labels[lls.index(max(lls))] == doc["answerKey"]))
    acc = result.tasks["tiny_arc"].metrics["acc"].scores["acc"]
    assert acc.value == pytest.approx(sum(expected) / len(expected))
    echo = [r.json for r in gsm8k_upstream.requests if r.json and r.json.get("echo")]
    assert len(echo) == 12  # one batched request per document (all its choices)
    assert all(isinstance(p["prompt"], list) and p["max_tokens"] == 0 for p in echo)


def test_server_rejecting_max_tokens_zero_falls_back_to_one(gsm8k_upstream, tmp_path):
    ref = evaluate(target(gsm8k_upstream), config(tmp_path / "ref", task="tiny_arc"))
    gsm8k_upstream.fail(status=400, times=1, body='{"error": "max_tokens must be >= 1"}')
    got = evaluate(target(gsm8k_upstream), config(tmp_path / "fb", task="tiny_arc", max_retries=0))
    assert got.metadata.num_errors == 0
    assert got.tasks == ref.tasks
    last = [r.json for r in gsm8k_upstream.requests if r.json and r.json.get("echo")][-1]
    assert last["max_tokens"] == 1


def test_resume_skips_journaled_docs_and_gives_the_same_metrics(gsm8k_upstream, tmp_path):
    full = evaluate(target(gsm8k_upstream), config(tmp_path / "full", limit_samples=20))
    out = tmp_path / "resumed"
    evaluate(target(gsm8k_upstream), config(out, limit_samples=8))
    before = gsm8k_upstream.request_count
    resumed = evaluate(target(gsm8k_upstream), config(out, limit_samples=20))
    assert gsm8k_upstream.request_count - before == 12  # only the 12 docs not yet journaled
    assert resumed.tasks == full.tasks
    assert resumed.metadata.extra["counts"]["resumed_from_journal"] == 8


def test_changed_settings_are_refused_with_how_to_start_fresh(gsm8k_upstream, tmp_path):
    evaluate(target(gsm8k_upstream), config(tmp_path, limit_samples=3))
    with pytest.raises(EvaluationConfigError, match=r"params.temperature: None -> 0.5.*delete"):
        evaluate(target(gsm8k_upstream), config(tmp_path, limit_samples=3, temperature=0.5))


def test_rescore_recomputes_from_the_journal_without_inference(gsm8k_upstream, tmp_path):
    first = evaluate(target(gsm8k_upstream), config(tmp_path, limit_samples=12))
    (tmp_path / "results.json").unlink()
    before = gsm8k_upstream.request_count
    gsm8k_upstream.stop()  # no server at all: re-scoring must not need one
    again = evaluate(
        target(gsm8k_upstream),
        config(tmp_path, limit_samples=12, extra={"rescore": True, "quiet": True}),
    )
    assert gsm8k_upstream.request_count == before
    assert again.tasks == first.tasks
    assert (tmp_path / "results.json").exists()


def test_a_failing_sample_is_an_error_not_a_wrong_answer(gsm8k_upstream, tmp_path):
    gsm8k_upstream.fail(status=500, times=1)
    result = evaluate(target(gsm8k_upstream), config(tmp_path, limit_samples=30, max_retries=0))
    score = strict(result)
    assert result.metadata.num_errors == 1
    assert score.stats.count == 29 and score.stats.num_errors == 1
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    errored = [s for s in samples if s["error"]]
    assert len(errored) == 1 and "HTTP 500" in errored[0]["error"] and errored[0]["score"] is None
    # a resume retries the failed sample (the upstream is healthy now)
    again = evaluate(target(gsm8k_upstream), config(tmp_path, limit_samples=30, max_retries=0))
    assert again.metadata.num_errors == 0
    assert strict(again).value == pytest.approx(expected_strict_match(30))


def test_errors_past_the_fraction_fail_the_run_naming_the_cause(gsm8k_upstream, tmp_path):
    gsm8k_upstream.fail(status=503, times=4, body='{"error": "model overloaded"}')
    with pytest.raises(TooManyErrorsError) as err:
        evaluate(
            target(gsm8k_upstream),
            config(tmp_path, limit_samples=20, max_retries=0, extra={"max_error_fraction": 0.1}),
        )
    msg = str(err.value)
    assert "HTTP 503" in msg and "model overloaded" in msg and "max_error_fraction=0.1" in msg
    assert not (tmp_path / "results.json").exists()
    assert (tmp_path / "journal.jsonl").exists()


def test_garbage_bodies_are_retried(gsm8k_upstream, tmp_path):
    gsm8k_upstream.non_json(times=2)
    result = evaluate(target(gsm8k_upstream), config(tmp_path, limit_samples=3, max_retries=3))
    assert result.metadata.num_errors == 0
    assert strict(result).stats.count == 3


def test_wrong_endpoint_type_is_a_config_error(gsm8k_upstream, tmp_path):
    with pytest.raises(EvaluationConfigError, match="runs on completions endpoints"):
        evaluate(target(gsm8k_upstream, kind="chat"), config(tmp_path, task="tiny_arc"))
    with pytest.raises(EvaluationConfigError, match="unknown benchmark"):
        evaluate(target(gsm8k_upstream), config(tmp_path, task="no_such_task"))


def test_server_mode_and_caching_through_the_adapter(gsm8k_upstream, tmp_path):
    adapter = AdapterConfig(local_port=0, use_caching=True, caching_dir=str(tmp_path / "cache"))
    first = evaluate(target(gsm8k_upstream), config(tmp_path / "a", limit_samples=6), adapter)
    before = gsm8k_upstream.request_count
    second = evaluate(target(gsm8k_upstream), config(tmp_path / "b", limit_samples=6), adapter)
    assert gsm8k_upstream.request_count == before  # all six answered from the cache
    assert second.tasks == first.tasks
    assert second.metadata.num_cache_hits == 6


def test_seed_pattern_1_call_shape(gsm8k_upstream, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gsm8k_upstream, "model", "megatron_model")  # the seed's served model
    url = gsm8k_upstream.completions_url + "/"
    adapter_config = AdapterConfig(
        api_url=url,
        use_reasoning=True,
        end_reasoning_token="</think>",
        start_reasoning_token="<think>",
        custom_system_prompt="You are a helpful assistant that thinks step by step.",
        use_caching=True,
        caching_dir="./cache",
        use_request_logging=True,
        use_response_logging=True,
        max_logged_requests=100,
        max_logged_responses=100,
    )
    api_endpoint = ApiEndpoint(url=url, model_id="megatron_model")
    t = EvaluationTarget(api_endpoint=api_endpoint)
    c = EvaluationConfig(type="tiny_gsm8k", output_dir="results", params={"limit_samples": 5})
    results = evaluate(target_cfg=t, eval_cfg=c, adapter_cfg=adapter_config)
    assert "tiny_gsm8k.exact_match.strict-match" in str(results)
    assert (tmp_path / "results" / "requests.jsonl").exists()
    assert results.metadata.model_id == "megatron_model"


def test_outputs_stream_in_document_order_across_chunks_resumed_and_fresh(gsm8k_upstream, tmp_path):
    # 257 documents: one past the 256 journal entries read back at a time; the first 130
    # come from an earlier run's journal (scored again), the other 127 are scored as they run
    first = evaluate(
        target(gsm8k_upstream),
        config(tmp_path, parallelism=8, limit_samples=130, extra={"tiny_size": 257, "quiet": True}),
    )
    assert first.metadata.num_samples == 130
    result = evaluate(
        target(gsm8k_upstream),
        config(tmp_path, parallelism=8, extra={"tiny_size": 257, "quiet": True}),
    )
    counts = result.metadata.extra["counts"]
    assert (counts["samples"], counts["resumed_from_journal"], counts["scored"]) == (257, 130, 257)
    # the upstream fixture knows the first 60 questions (two in three right), not the rest
    right = [i < 60 and i % 3 != 0 for i in range(257)]
    assert strict(result).value == pytest.approx(sum(right) / 257)
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [s["doc_id"] for s in samples] == [str(i) for i in range(257)]
    for i in (0, 1, 59, 60, 255, 256):  # both ends of both chunks, and the fixture's edge
        assert samples[i]["score"] == {"exact_match": {"strict-match": float(right[i])}}, i
        assert samples[i]["extracted"] is not None and samples[i]["target"] is not None
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    rows = json.loads(page.split('id="samples-data">', 1)[1].split("</script>", 1)[0])
    assert [r["id"] for r in rows] == [str(i) for i in range(257)]
    wrong = right.count(False)
    assert f'<option value="wrong">wrong ({wrong})</option>' in page
    assert f'<option value="correct">correct ({257 - wrong})</option>' in page
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files
