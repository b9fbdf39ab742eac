"""The stub upstream behaves like an OpenAI-compatible model server, faults included."""

from __future__ import annotations

import time

import openai
import pytest
import requests

from nemo_evaluator.testing import OpenAIStubServer, token_logprob, tokenize


def _chat(server: OpenAIStubServer, text: str = "hi there", **extra: object) -> requests.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], **extra}
    return requests.post(server.chat_url, json=body, timeout=10)


def test_chat_completion_shape_and_usage() -> None:
    with OpenAIStubServer(model="stub") as s:
        data = _chat(s, "hi there").json()
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "Echo: hi there"}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_completions_prompt_list_echo_logprobs_like_openai() -> None:
    with OpenAIStubServer(reply=" yes") as s:
        r = requests.post(
            s.completions_url,
            json={
                "model": "m",
                "prompt": ["The cat", "A dog"],
                "echo": True,
                "logprobs": 2,
                "max_tokens": 1,
            },
            timeout=10,
        )
    choices = r.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    first = choices[0]
    assert first["text"] == "The cat yes"
    lp = first["logprobs"]
    assert lp["tokens"] == ["The", " cat", " yes"]
    assert lp["token_logprobs"][0] is None  # echoed first token has no logprob
    assert lp["token_logprobs"][1:] == [token_logprob(" cat"), token_logprob(" yes")]
    assert lp["top_logprobs"][0] is None
    assert len(lp["top_logprobs"][2]) == 2 and lp["top_logprobs"][2][" yes"] == token_logprob(
        " yes"
    )
    assert lp["text_offset"] == [0, 3, 7]


def test_completions_max_tokens_zero_scores_the_prompt_only() -> None:
    with OpenAIStubServer() as s:
        r = requests.post(
            s.completions_url,
            json={"model": "m", "prompt": "a b c", "echo": True, "logprobs": 0, "max_tokens": 0},
            timeout=10,
        )
    choice = r.json()["choices"][0]
    assert choice["text"] == "a b c"
    assert choice["logprobs"]["tokens"] == tokenize("a b c")
    assert choice["logprobs"]["top_logprobs"] is None


def test_models_and_stop_and_max_tokens() -> None:
    with OpenAIStubServer(model="stub", reply="one two three. four") as s:
        models = requests.get(s.base_url + "/models", timeout=10).json()
        stopped = _chat(s, stop=["."]).json()["choices"][0]
        cut = _chat(s, max_tokens=2).json()["choices"][0]
    assert models["data"][0]["id"] == "stub"
    assert stopped["message"]["content"] == "one two three"
    assert (cut["message"]["content"], cut["finish_reason"]) == ("one two", "length")


def test_real_openai_client_chat_completions_and_stream() -> None:
    with OpenAIStubServer(reply="alpha beta") as s:
        client = openai.OpenAI(base_url=s.base_url, api_key="k", max_retries=0)
        chat = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
        comp = client.completions.create(model="m", prompt="x", max_tokens=5)
        parts = [
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], stream=True
            )
        ]
    assert chat.choices[0].message.content == "alpha beta"
    assert comp.choices[0].text == "alpha beta"
    assert "".join(parts) == "alpha beta"


def test_faults_apply_in_order_then_normal_answers() -> None:
    with OpenAIStubServer() as s:
        s.fail(status=500, times=2).fail(status=429, retry_after=3).non_json()
        statuses = [_chat(s).status_code for _ in range(3)]
        r429 = statuses[2]
        garbage = _chat(s)
        ok = _chat(s)
    assert statuses == [500, 500, 429] and r429 == 429
    assert garbage.status_code == 200
    with pytest.raises(ValueError):
        garbage.json()
    assert ok.json()["choices"][0]["message"]["content"].startswith("Echo:")


def test_retry_after_header_is_sent() -> None:
    with OpenAIStubServer() as s:
        s.fail(status=429, retry_after=2)
        r = _chat(s)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def test_reset_mid_body_breaks_the_connection() -> None:
    with OpenAIStubServer() as s:
        s.reset()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            _chat(s)
        assert _chat(s).status_code == 200


def test_slow_and_fixed_latency() -> None:
    with OpenAIStubServer(latency_s=0.05) as s:
        s.slow(delay_s=0.3)
        t0 = time.perf_counter()
        _chat(s)
        slow = time.perf_counter() - t0
        t0 = time.perf_counter()
        _chat(s)
        normal = time.perf_counter() - t0
    assert slow >= 0.35
    assert 0.05 <= normal < 0.3


def test_closed_url_is_down_and_requests_are_recorded() -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(OpenAIStubServer.closed_url() + "/v1/models", timeout=2)
    with OpenAIStubServer() as s:
        _chat(s, "recorded", temperature=0.5)
        rec = s.requests[-1]
    assert rec.path == "/v1/chat/completions"
    assert rec.json["temperature"] == 0.5 and s.request_count == 1
