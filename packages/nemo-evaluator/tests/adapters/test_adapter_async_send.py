"""``AdapterPipeline.asend`` (the evaluate core's path) keeps every rule of ``send``.

Each fault runs against the real stub upstream on loopback, through the same chain, and must
give what the threaded call gives: status, attempts, error body, waits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from adapter_support import chat_payload, fast_retries

from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.adapters.interceptor import AdapterResponse
from nemo_evaluator.adapters.pipeline import AdapterPipeline
from nemo_evaluator.testing import OpenAIStubServer


def asend(pipeline: AdapterPipeline, *payloads: dict[str, Any]) -> list[AdapterResponse]:
    """Send ``payloads`` concurrently on a fresh event loop, then close its session."""

    async def main() -> list[AdapterResponse]:
        try:
            return list(await asyncio.gather(*(pipeline.asend(p) for p in payloads)))
        finally:
            await pipeline.aclose()

    return asyncio.run(main())


def test_down_gives_502_after_every_retry(make_pipeline) -> None:
    pipeline = make_pipeline(None, url=OpenAIStubServer.closed_url() + "/v1/chat/completions")
    [resp] = asend(pipeline, chat_payload())
    assert resp.status_code == 502 and resp.attempts == 4  # 1 + 3 retries
    err = resp.json()["error"]
    assert "could not be reached" in err["message"] and err["attempts"] == 4


def test_slow_past_the_timeout_gives_504_and_recovers_when_fast_again(
    upstream, make_pipeline
) -> None:
    upstream.slow(delay_s=1.0, times=2)
    pipeline = make_pipeline(None, url=upstream.chat_url, upstream_config=fast_retries(1, 0.3))
    t0 = time.perf_counter()
    [resp] = asend(pipeline, chat_payload())
    assert resp.status_code == 504 and resp.attempts == 2
    assert "timed out" in resp.json()["error"]["message"]
    assert time.perf_counter() - t0 < 1.5
    [again] = asend(pipeline, chat_payload())  # a new loop gets a new session
    assert again.status_code == 200 and again.attempts == 1


@pytest.mark.parametrize(
    ("fault", "status", "attempts"),
    [
        (dict(status=500, times=2), 200, 3),  # retried until it answers
        (dict(status=503, times=3), 200, 4),  # the last allowed attempt succeeds
        (dict(status=502, times=4), 502, 4),  # one failure too many
    ],
)
def test_5xx_is_retried_up_to_max_retries(upstream, make_pipeline, fault, status, attempts):
    upstream.fail(**fault, body='{"detail": "model crashed"}')
    pipeline = make_pipeline(AdapterConfig(use_caching=True), url=upstream.chat_url)
    [resp] = asend(pipeline, chat_payload())
    assert (resp.status_code, resp.attempts) == (status, attempts)
    if status >= 500:
        err = resp.json()["error"]
        assert err["upstream_status"] == 502 and "model crashed" in err["upstream_body"]
        assert pipeline.stats()["interceptors"]["caching"]["cache_stored"] == 0
    else:
        assert resp.json()["choices"][0]["message"]["content"] == "Echo: hello"


def test_429_waits_what_retry_after_says(upstream, make_pipeline) -> None:
    upstream.fail(status=429, times=1, retry_after=1)
    pipeline = make_pipeline(None, url=upstream.chat_url)
    t0 = time.perf_counter()
    [resp] = asend(pipeline, chat_payload())
    waited = time.perf_counter() - t0
    assert resp.status_code == 200 and resp.attempts == 2
    assert 1.0 <= waited < 2.5  # backoff alone would be ~0.01 s


def test_other_4xx_come_back_at_once_with_the_upstream_body(upstream, make_pipeline) -> None:
    upstream.fail(status=400, times=3, body='{"error": {"message": "bad prompt"}}')
    pipeline = make_pipeline(None, url=upstream.chat_url)
    [resp] = asend(pipeline, chat_payload())
    assert resp.status_code == 400 and resp.attempts == 1
    assert resp.json() == {"error": {"message": "bad prompt"}}
    assert upstream.request_count == 1


@pytest.mark.parametrize(("resets", "status", "attempts"), [(1, 200, 2), (2, 502, 2)])
def test_connection_reset_mid_body(upstream, make_pipeline, resets, status, attempts) -> None:
    upstream.reset(times=resets)
    pipeline = make_pipeline(None, url=upstream.chat_url, upstream_config=fast_retries(1))
    [resp] = asend(pipeline, chat_payload())
    assert (resp.status_code, resp.attempts) == (status, attempts)


def test_same_answer_key_and_cache_as_send(upstream, make_pipeline) -> None:
    pipeline = make_pipeline(
        AdapterConfig(use_caching=True), url=upstream.chat_url, api_key="sk-test-123"
    )
    threaded = pipeline.send(chat_payload("a"))
    hit, miss = asend(pipeline, chat_payload("a"), chat_payload("b"))
    assert hit.cache_hit and hit.attempts == 0 and hit.json() == threaded.json()
    assert not miss.cache_hit and miss.json()["choices"][0]["message"]["content"] == "Echo: b"
    sent = upstream.requests
    assert [r.json["messages"][0]["content"] for r in sent] == ["a", "b"]
    assert {r.headers.get("Authorization") for r in sent} == {"Bearer sk-test-123"}
    stats = pipeline.stats()
    assert (stats["requests"], stats["cache_hits"], stats["upstream_attempts"]) == (3, 1, 2)


def test_answers_from_the_cache_open_no_upstream_session(upstream, make_pipeline) -> None:
    pipeline = make_pipeline(AdapterConfig(use_caching=True), url=upstream.chat_url)
    pipeline.send(chat_payload("a"))

    async def main() -> tuple[AdapterResponse, bool, AdapterResponse, bool]:
        hit = await pipeline.asend(chat_payload("a"))
        opened_by_hit = bool(pipeline._aupstreams)
        miss = await pipeline.asend(chat_payload("b"))
        opened_by_miss = bool(pipeline._aupstreams)
        await pipeline.aclose()
        return hit, opened_by_hit, miss, opened_by_miss

    hit, opened_by_hit, miss, opened_by_miss = asyncio.run(main())
    assert hit.cache_hit and not opened_by_hit  # a wholly cached run never opens one
    assert not miss.cache_hit and opened_by_miss and pipeline._aupstreams == {}
    assert [r.json["messages"][0]["content"] for r in upstream.requests] == ["a", "b"]


def test_a_closed_pipeline_refuses_asend(upstream, make_pipeline) -> None:
    pipeline = make_pipeline(None, url=upstream.chat_url)
    pipeline.close()
    with pytest.raises(Exception, match="closed"):
        asend(pipeline, chat_payload())
