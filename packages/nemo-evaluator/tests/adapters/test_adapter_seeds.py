"""The seeds' AdapterConfig snippets, unchanged but for URLs, against a real upstream."""

from __future__ import annotations

import json

import openai
import requests

from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.adapters.pipeline import AdapterPipeline
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.api.api_dataclasses import EvaluationTarget


def test_usage_example_adapter_config(tmp_path) -> None:
    with OpenAIStubServer(reply=" B") as up:
        completions_url = up.completions_url
        target_config = EvaluationTarget(
            api_endpoint={"url": completions_url, "type": "completions"}
        )
        adapter_config = AdapterConfig(
            api_url=target_config.api_endpoint.url,
            local_port=None,
            max_logged_requests=1,
            max_logged_responses=1,
        )
        pipeline = AdapterPipeline.from_config(
            adapter_config,
            upstream_url=adapter_config.api_url,
            output_dir=tmp_path,
            endpoint_type=target_config.api_endpoint.endpoint_type,
        )
        with pipeline, pipeline.serve(port=adapter_config.local_port) as server:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
            for q in ("Question 1", "Question 2"):
                out = client.completions.create(
                    model="m", prompt=q, max_tokens=1, logprobs=1, echo=True
                )
                assert out.choices[0].text == q + " B"
                assert out.choices[0].logprobs.token_logprobs[0] is None
    assert len((tmp_path / "requests.jsonl").read_text().splitlines()) == 1
    assert len((tmp_path / "responses.jsonl").read_text().splitlines()) == 1


def test_pattern_1_adapter_config(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with OpenAIStubServer(reply="<think>step by step</think> 42", port=None) as up:
        adapter_config = AdapterConfig(
            api_url=up.url + "/v1/completions/",
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
        pipeline = AdapterPipeline.from_config(
            adapter_config,
            upstream_url=adapter_config.api_url,
            output_dir="results",
            endpoint_type="completions",
        )
        with pipeline:
            first = pipeline.send({"model": "megatron_model", "prompt": "Q: 6*7?\nA:"})
            again = pipeline.send({"model": "megatron_model", "prompt": "Q: 6*7?\nA:"})
            with pipeline.serve() as server:
                via_proxy = requests.post(
                    server.url + "/v1/completions/",
                    json={"model": "megatron_model", "prompt": "Q: 1+1?\nA:"},
                    timeout=10,
                )
        assert up.requests[0].path == "/v1/completions/"
    assert first.json()["choices"][0]["text"] == "42" and again.cache_hit
    assert via_proxy.json()["choices"][0]["text"] == "42"
    assert (tmp_path / "cache" / "cache.sqlite").exists()
    assert len((tmp_path / "results" / "requests.jsonl").read_text().splitlines()) == 3
    stats = json.loads((tmp_path / "results" / "adapter_stats.json").read_text())
    assert stats["requests"] == 3 and stats["cache_hits"] == 1
