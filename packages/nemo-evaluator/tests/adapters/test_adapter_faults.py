"""Upstream faults give the documented behaviour in client and server mode and lose no data."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
import requests
from adapter_support import chat_payload, fast_retries

from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.adapters.interceptor import AdapterResponse
from nemo_evaluator.testing import OpenAIStubServer

LOG_ALL = AdapterConfig(use_caching=True, log_failed_requests=True, max_logged_responses=None)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_upstream_down_gives_502_json_error_after_retries(make_pipeline) -> None:
    pipeline = make_pipeline(LOG_ALL, url=OpenAIStubServer.closed_url() + "/v1/chat/completions")
    resp = pipeline.send(chat_payload())
    assert resp.status_code == 502 and resp.attempts == 4  # 1 + 3 retries
    err = resp.json()["error"]
    assert err["upstream_status"] is None and "could not be reached" in err["message"]
    assert err["attempts"] == 4
    pipeline.close()
    failed = _lines(pipeline.output_dir / "failed_requests.jsonl")
    assert len(failed) == 1 and failed[0]["status"] == 502
    assert failed[0]["request"]["body"]["messages"][0]["content"] == "hello"


def test_slow_past_the_timeout_gives_504(upstream, make_pipeline) -> None:
    upstream.slow(delay_s=1.0, times=2)
    pipeline = make_pipeline(None, url=upstream.chat_url, upstream_config=fast_retries(1, 0.3))
    t0 = time.perf_counter()
    resp = pipeline.send(chat_payload())
    assert resp.status_code == 504 and resp.attempts == 2
    assert "timed out" in resp.json()["error"]["message"]
    assert time.perf_counter() - t0 < 1.5


def test_slow_once_then_fast_recovers(upstream, make_pipeline) -> None:
    upstream.slow(delay_s=1.0, times=1)
    pipeline = make_pipeline(None, url=upstream.chat_url, upstream_config=fast_retries(2, 0.3))
    resp = pipeline.send(chat_payload())
    assert resp.status_code == 200 and resp.attempts == 2


def test_500_twice_then_200_in_both_modes(upstream, make_pipeline) -> None:
    pipeline = make_pipeline(LOG_ALL, url=upstream.chat_url)
    upstream.fail(status=500, times=2)
    client = pipeline.send(chat_payload("a"))
    assert (client.status_code, client.attempts) == (200, 3)
    upstream.fail(status=503, times=2)
    with pipeline.serve() as server:
        r = requests.post(server.url + "/v1/chat/completions", json=chat_payload("b"), timeout=10)
    assert r.status_code == 200 and r.headers["X-Adapter-Attempts"] == "3"
    assert r.json()["choices"][0]["message"]["content"] == "Echo: b"
    stats = pipeline.stats()
    assert stats["retries"] == 4 and stats["interceptors"]["caching"]["cache_stored"] == 2


def test_5xx_to_the_end_carries_upstream_status_and_body(upstream, make_pipeline) -> None:
    upstream.fail(status=500, times=10, body='{"detail": "model crashed"}')
    pipeline = make_pipeline(LOG_ALL, url=upstream.chat_url)
    resp = pipeline.send(chat_payload())
    assert resp.status_code == 500 and resp.attempts == 4
    err = resp.json()["error"]
    assert err["upstream_status"] == 500 and "model crashed" in err["upstream_body"]
    assert pipeline.stats()["interceptors"]["caching"]["cache_stored"] == 0


def test_429_honours_retry_after(upstream, make_pipeline) -> None:
    upstream.fail(status=429, times=1, retry_after=1)
    pipeline = make_pipeline(None, url=upstream.chat_url)
    t0 = time.perf_counter()
    resp = pipeline.send(chat_payload())
    waited = time.perf_counter() - t0
    assert resp.status_code == 200 and resp.attempts == 2
    assert 1.0 <= waited < 2.5  # backoff alone would be ~0.01 s


def test_other_4xx_are_returned_at_once(upstream, make_pipeline) -> None:
    upstream.fail(status=400, times=3, body='{"error": {"message": "bad prompt"}}')
    pipeline = make_pipeline(LOG_ALL, url=upstream.chat_url)
    resp = pipeline.send(chat_payload())
    assert resp.status_code == 400 and resp.attempts == 1
    assert resp.json() == {"error": {"message": "bad prompt"}}
    assert upstream.request_count == 1


def test_non_json_body_is_passed_through_logged_and_not_cached(upstream, make_pipeline) -> None:
    upstream.non_json(times=1)
    pipeline = make_pipeline(LOG_ALL, url=upstream.chat_url)
    with pipeline.serve() as server:
        r = requests.post(server.url + "/v1/chat/completions", json=chat_payload(), timeout=10)
        ok = requests.post(server.url + "/v1/chat/completions", json=chat_payload(), timeout=10)
    assert r.status_code == 200 and r.text.startswith("<html>")
    with pytest.raises(ValueError):
        r.json()
    assert ok.json()["choices"][0]["message"]["content"] == "Echo: hello"  # not a cached garbage
    assert upstream.request_count == 2
    pipeline.close()
    failed = _lines(pipeline.output_dir / "failed_requests.jsonl")
    assert len(failed) == 1 and failed[0]["body"].startswith("<html>")


def test_reset_mid_body_is_retried(upstream, make_pipeline) -> None:
    upstream.reset(times=2)
    pipeline = make_pipeline(LOG_ALL, url=upstream.chat_url)
    resp = pipeline.send(chat_payload())
    assert resp.status_code == 200 and resp.attempts == 3
    assert resp.json()["choices"][0]["message"]["content"] == "Echo: hello"


def test_reset_to_the_end_gives_502(upstream, make_pipeline) -> None:
    upstream.reset(times=10)
    pipeline = make_pipeline(None, url=upstream.chat_url, upstream_config=fast_retries(1))
    resp = pipeline.send(chat_payload())
    assert resp.status_code == 502 and resp.attempts == 2


def test_client_disconnect_keeps_the_answer_cached_and_logged(make_pipeline) -> None:
    with OpenAIStubServer(latency_s=0.6) as up:
        pipeline = make_pipeline(LOG_ALL, url=up.chat_url)
        with pipeline.serve() as server:
            with pytest.raises(requests.Timeout):
                requests.post(server.url + "/v1/chat/completions", json=chat_payload(), timeout=0.2)
            time.sleep(0.8)  # the proxy finishes the upstream call after the client left
            t0 = time.perf_counter()
            r = requests.post(server.url + "/v1/chat/completions", json=chat_payload(), timeout=5)
            hit_time = time.perf_counter() - t0
            health = requests.get(server.url + "/health", timeout=5)
        assert r.status_code == 200 and r.headers["X-Adapter-Cache"] == "hit"
        assert hit_time < 0.5 and health.status_code == 200
        assert up.request_count == 1
    pipeline.close()
    assert len(_lines(pipeline.output_dir / "responses.jsonl")) == 2


def test_client_disconnect_mid_stream_does_not_break_the_proxy(make_pipeline) -> None:
    words = " ".join(f"w{i}" for i in range(40))
    with OpenAIStubServer(reply=words, stream_chunk_delay_s=0.05) as up:
        pipeline = make_pipeline(None, url=up.chat_url)
        with pipeline.serve() as server:
            host, port = server.host, server.port
            body = json.dumps(chat_payload(stream=True)).encode()
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    b"application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                assert sock.recv(100).startswith(b"HTTP/1.1 200")
            time.sleep(0.3)
            r = requests.post(server.url + "/v1/chat/completions", json=chat_payload(), timeout=5)
        assert r.status_code == 200


@pytest.mark.parametrize("via", ["send", "asend"])
def test_sample_timeout_counts_from_the_first_attempt(upstream, make_pipeline, via) -> None:
    # every answer is a 500 after 0.6 s: attempt 1 fails at 0.6 s, attempt 2 is cut off at
    # the sample deadline (1 s after the call began) and nothing is tried after it; the same
    # for the threaded call (send) and the event loop's (asend)
    upstream.latency_s = 0.6
    upstream.fail(status=500, times=20)
    config = fast_retries(10, 5.0).model_copy(update={"sample_timeout": 1.0})
    pipeline = make_pipeline(None, url=upstream.chat_url, upstream_config=config)

    async def on_a_loop() -> AdapterResponse:
        try:
            return await pipeline.asend(chat_payload())
        finally:
            await pipeline.aclose()

    t0 = time.perf_counter()
    resp = pipeline.send(chat_payload()) if via == "send" else asyncio.run(on_a_loop())
    elapsed = time.perf_counter() - t0
    assert resp.status_code == 504 and resp.attempts == 2
    assert 0.95 <= elapsed < 1.4
