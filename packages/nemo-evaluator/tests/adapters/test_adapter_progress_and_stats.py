"""Progress tracking (file, posts, unreachable URL) and response stats."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import flask
import pytest
from adapter_support import chat_payload

from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.wsgi_server import WsgiServer


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[int]]]:
    """A real progress receiver on loopback."""
    got: list[int] = []
    app = flask.Flask("progress-receiver")

    @app.post("/progress")
    def progress() -> dict:
        got.append(flask.request.get_json()["samples_processed"])
        return {"ok": True}

    with WsgiServer(app, threads=2, name="progress-receiver") as server:
        yield f"{server.url}/progress", got


def _wait_for(cond, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_server_mode_counts_answers_not_retries_or_cache_replays(
    upstream, make_pipeline, receiver
) -> None:
    url, got = receiver
    cfg = AdapterConfig(
        use_progress_tracking=True,
        progress_tracking_url=url,
        progress_tracking_interval=2,
        use_caching=True,
    )
    pipeline = make_pipeline(cfg, url=upstream.chat_url)
    upstream.fail(status=500, times=2)
    import requests

    with pipeline.serve() as server:
        for text in ["a", "b", "c", "a"]:
            requests.post(server.url + "/v1/chat/completions", json=chat_payload(text), timeout=10)
    pipeline.close()
    progress = json.loads((pipeline.output_dir / "progress.json").read_text())
    assert progress["samples_processed"] == 3  # retries and the cache replay are not samples
    assert _wait_for(lambda: got and got[-1] == 3)
    assert got == sorted(set(got))  # increasing, never repeated


def test_client_mode_counts_sample_finished_calls(upstream, make_pipeline, receiver) -> None:
    url, got = receiver
    cfg = AdapterConfig(use_progress_tracking=True, progress_tracking_url=url)
    pipeline = make_pipeline(cfg, url=upstream.chat_url)
    for i in range(3):
        pipeline.send(chat_payload(str(i)))
        pipeline.send(chat_payload(str(i) + "b"))  # two requests, one sample
        pipeline.sample_finished()
    pipeline.close()
    assert json.loads((pipeline.output_dir / "progress.json").read_text())["samples_processed"] == 3
    assert got[-1] == 3


def test_unreachable_progress_url_never_breaks_the_run(upstream, make_pipeline) -> None:
    cfg = AdapterConfig(
        use_progress_tracking=True,
        progress_tracking_url=OpenAIStubServer.closed_url() + "/progress",
    )
    pipeline = make_pipeline(cfg, url=upstream.chat_url)
    for i in range(3):
        assert pipeline.send(chat_payload(str(i))).status_code == 200
        pipeline.sample_finished()
    pipeline.close()
    assert json.loads((pipeline.output_dir / "progress.json").read_text())["samples_processed"] == 3
    assert pipeline.stats()["interceptors"]["progress_tracking"]["progress_post_failures"] >= 1


def test_response_stats_summary(make_pipeline, tmp_path) -> None:
    with OpenAIStubServer(reply="one two three") as up:
        pipeline = make_pipeline(AdapterConfig(use_caching=True), url=up.chat_url)
        pipeline.send(chat_payload("a b"))
        pipeline.send(chat_payload("a b"))
        pipeline.send(chat_payload("c", max_tokens=1))
        up.fail(status=404)
        pipeline.send(chat_payload("d"))
    pipeline.close()
    stats = json.loads((pipeline.output_dir / "response_stats.json").read_text())
    assert stats["responses"] == 4 and stats["cache_hits"] == 1
    assert stats["status_codes"] == {"200": 3, "404": 1}
    assert stats["finish_reasons"] == {"stop": 2, "length": 1}
    assert stats["usage"]["completion_tokens"] == 3 + 3 + 1
    assert stats["latency_s"]["p50"] > 0
    # one set of counters: the pipeline's summary says the same
    adapter = json.loads((pipeline.output_dir / "adapter_stats.json").read_text())
    assert adapter["requests"] == stats["responses"] and adapter["cache_hits"] == 1
    assert adapter["status_codes"] == stats["status_codes"]
    assert adapter["mean_latency_s"] == stats["latency_s"]["mean"]
    names = {p.name for p in pipeline.output_dir.iterdir()}
    assert {
        "adapter_stats.json",
        "response_stats.json",
        "requests.jsonl",
        "responses.jsonl",
    } <= names
