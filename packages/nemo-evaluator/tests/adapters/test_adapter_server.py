"""Server mode: a real proxy on loopback, used with requests, the openai client and the CLI.

Every test of the server itself runs on both engines (``asyncio``, the default, and
``waitress``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import openai
import pytest
import requests
from adapter_support import chat_payload

from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.errors import ConfigError
from nemo_evaluator.testing import OpenAIStubServer


@pytest.fixture(params=["asyncio", "waitress"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_openai_client_chat_and_completions_through_the_proxy(
    upstream, make_pipeline, engine
) -> None:
    pipeline = make_pipeline(
        AdapterConfig(use_caching=True, custom_system_prompt="Be brief."), url=upstream.chat_url
    )
    with pipeline.serve(engine=engine) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-secret", max_retries=0)
        chat = client.chat.completions.create(
            model="stub-model", messages=[{"role": "user", "content": "what is 2+2"}]
        )
        comp = client.completions.create(model="stub-model", prompt="2+2=", max_tokens=4)
        again = client.chat.completions.create(
            model="stub-model", messages=[{"role": "user", "content": "what is 2+2"}]
        )
        models = client.models.list()
    assert chat.choices[0].message.content == "Echo: what is 2+2"
    assert again.choices[0].message.content == chat.choices[0].message.content
    assert comp.choices[0].text == "Echo: 2+2="
    assert [m.id for m in models.data] == ["stub-model"]
    seen = [r for r in upstream.requests if r.path == "/v1/chat/completions"]
    assert len(seen) == 1  # the repeat was a cache hit
    assert seen[0].json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert seen[0].headers["Authorization"] == "Bearer sk-secret"


def test_requests_client_query_health_and_cache_header(upstream, make_pipeline, engine) -> None:
    pipeline = make_pipeline(AdapterConfig(use_caching=True), url=upstream.chat_url)
    with pipeline.serve(engine=engine) as server:
        health = requests.get(server.url + "/health", timeout=5).json()
        first = requests.post(server.url + "/v1/chat/completions", json=chat_payload(), timeout=5)
        second = requests.post(server.url + "/v1/chat/completions", json=chat_payload(), timeout=5)
        models = requests.get(server.url + "/v1/models?limit=1", timeout=5)
    assert health["status"] == "ok"
    assert first.status_code == 200 and "X-Adapter-Cache" not in first.headers
    assert second.headers["X-Adapter-Cache"] == "hit" and second.json() == first.json()
    assert models.json()["data"][0]["id"] == "stub-model"
    # one generation (the second was a cache hit) and the model list, proxied
    assert (upstream.request_count, upstream.models_requests) == (1, 1)


def test_authorization_goes_upstream_but_never_into_logs(
    upstream, make_pipeline, tmp_path, engine
) -> None:
    cfg = AdapterConfig(
        max_logged_requests=None, max_logged_responses=None, log_failed_requests=True
    )
    pipeline = make_pipeline(cfg, url=upstream.chat_url, output_dir=tmp_path / "o")
    upstream.fail(status=400, times=1)
    with pipeline.serve(engine=engine) as server:
        for _ in range(2):
            requests.post(
                server.url + "/v1/chat/completions",
                json=chat_payload(),
                headers={"Authorization": "Bearer sk-very-secret"},
                timeout=5,
            )
    pipeline.close()
    assert upstream.requests[0].headers["Authorization"] == "Bearer sk-very-secret"
    logs = "".join(p.read_text() for p in (tmp_path / "o").glob("*.json*"))
    assert "requests.jsonl" in os.listdir(tmp_path / "o")
    assert "failed_requests.jsonl" in os.listdir(tmp_path / "o")
    assert "sk-very-secret" not in logs and "***" in logs


def test_sse_stream_passes_through_unbuffered(make_pipeline, engine) -> None:
    with OpenAIStubServer(reply="one two three four five six", stream_chunk_delay_s=0.15) as up:
        pipeline = make_pipeline(AdapterConfig(use_caching=True), url=up.chat_url)
        with pipeline.serve(engine=engine) as server:
            t0 = time.perf_counter()
            r = requests.post(
                server.url + "/v1/chat/completions",
                json=chat_payload(stream=True),
                stream=True,
                timeout=10,
            )
            arrivals, text = [], ""
            for line in r.iter_lines():
                if line.startswith(b"data: ") and line != b"data: [DONE]":
                    arrivals.append(time.perf_counter() - t0)
                    delta = json.loads(line[6:])["choices"][0]["delta"]
                    text += delta.get("content") or ""
    assert text == "one two three four five six"
    total = arrivals[-1]
    assert total >= 0.8  # six tokens, 0.15 s apart
    assert arrivals[1] < total - 0.5  # early tokens arrived long before the last one
    assert pipeline.stats()["interceptors"]["caching"]["cache_stored"] == 0  # streams not cached


def test_port_in_use_is_a_clear_error(upstream, make_pipeline, engine) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port}.*in use"):
            make_pipeline(None, url=upstream.chat_url).serve(port=port, engine=engine)


@pytest.mark.slow
def test_cli_serves_and_writes_stats_on_ctrl_c(upstream, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "cli_out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nemo_evaluator.cli",
            "adapter",
            "--api-url",
            upstream.chat_url,
            "--port",
            str(port),
            "--output-dir",
            str(out),
            "--use-caching",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert f"127.0.0.1:{port}" in line, line
        for _ in range(2):
            r = requests.post(
                f"http://127.0.0.1:{port}/v1/chat/completions", json=chat_payload(), timeout=10
            )
            assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    stats = json.loads((out / "adapter_stats.json").read_text())
    assert stats["requests"] == 2 and stats["cache_hits"] == 1
    assert upstream.request_count == 1


def _cli_burst(upstream, tmp_path: Path, *engine_args: str) -> tuple[list[int], float, str]:
    """Six requests at once to an ``adapter --threads 1`` in front of a 0.2 s upstream: their
    statuses, the wall time of the burst and what the CLI printed."""
    upstream.latency_s = 0.2
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "nemo_evaluator.cli", "adapter"),
            *("--api-url", upstream.chat_url, "--output-dir", str(tmp_path / "out")),
            *("--threads", "1", *engine_args),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = next(w for w in line.split() if w.startswith("http://127.0.0.1"))
        statuses: list[int] = []

        def post(i: int) -> None:
            r = requests.post(url + "/v1/chat/completions", json=chat_payload(f"q{i}"), timeout=20)
            statuses.append(r.status_code)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    return statuses, wall, out


@pytest.mark.slow
def test_cli_waitress_says_once_that_requests_queue_for_busy_threads(upstream, tmp_path) -> None:
    statuses, wall, out = _cli_burst(upstream, tmp_path, "--engine", "waitress")
    assert statuses == [200] * 6
    assert wall >= 6 * 0.2  # one worker: one request after the other
    # five requests found the only worker busy: one line says so, with what to do
    queued = [x for x in out.splitlines() if "Task queue depth" in x]
    assert len(queued) == 1, out
    assert "all 1 worker threads are busy" in queued[0] and "--threads" in queued[0]


@pytest.mark.slow
def test_cli_asyncio_serves_more_requests_at_once_than_threads(upstream, tmp_path) -> None:
    statuses, wall, out = _cli_burst(upstream, tmp_path)  # the default engine
    assert statuses == [200] * 6
    assert wall < 5 * 0.2, wall  # all six waited on the upstream together, not in turn
    assert "Task queue depth" not in out and "Traceback" not in out, out


def test_cli_bad_config_is_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nemo_evaluator.cli",
            "adapter",
            "--api-url",
            "http://127.0.0.1:9/v1/completions",
            "--custom-system-prompt",
            "x",
            "--config",
            str(tmp_path / "missing.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "missing.yaml" in proc.stderr


def test_a_failed_start_leaves_no_threads(upstream, make_pipeline, engine) -> None:
    pipeline = make_pipeline(None, url=upstream.chat_url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        before = threading.active_count()
        for _ in range(3):
            with pytest.raises(ConfigError, match=f"port {port}.*in use"):
                pipeline.serve(port=port, engine=engine)
        assert threading.active_count() == before  # no idle workers per failed start


def test_stop_joins_every_thread_with_a_keep_alive_client(upstream, make_pipeline) -> None:
    server = make_pipeline(None, url=upstream.chat_url).serve(engine="waitress")
    with requests.Session() as session:  # keeps its connection open after the request
        assert session.get(f"{server.url}/health", timeout=5).status_code == 200
        threads = server.running_threads()
        assert len(threads) == 1 + 16  # the loop and the default 16 workers
        server.stop()
        assert [t.name for t in threads if t.is_alive()] == []


def test_asyncio_stop_joins_the_loop_and_the_stream_readers(make_pipeline) -> None:
    with OpenAIStubServer(reply="a b c", stream_chunk_delay_s=0.01) as up:
        server = make_pipeline(None, url=up.chat_url).serve(threads=2)
        assert [t.name for t in server.running_threads()] == ["nemo-evaluator-adapter"]
        with requests.Session() as session:  # keeps its connection open after the request
            for _ in range(3):
                r = session.post(
                    server.url + "/v1/chat/completions", json=chat_payload(stream=True), timeout=5
                )
                assert r.status_code == 200 and r.text.rstrip().endswith("data: [DONE]")
            threads = server.running_threads()
            # the loop, and the readers of streamed answers: at most --threads of them
            assert 2 <= len(threads) <= 1 + 2, [t.name for t in threads]
            server.stop()
            assert [t.name for t in threads if t.is_alive()] == []
            with pytest.raises(requests.ConnectionError):  # the kept connection was closed too
                session.get(server.url + "/health", timeout=5)


def test_health_answers_get_only(upstream, make_pipeline, engine) -> None:
    with make_pipeline(None, url=upstream.chat_url).serve(engine=engine) as server:
        got = requests.get(server.url + "/health", timeout=5)
        head = requests.head(server.url + "/health", timeout=5)
        post = requests.post(server.url + "/health", json={}, timeout=5)
    assert got.json() == {"status": "ok", "upstream": upstream.chat_url}
    assert head.status_code == 200 and head.content == b""
    assert post.status_code == 405
    assert upstream.request_count == 0 and upstream.models_requests == 0  # never proxied


def test_a_client_that_leaves_mid_stream_stops_the_upstream_stream(make_pipeline, engine) -> None:
    """The client reads the first event of a 2 s stream and hangs up: the proxy stops reading
    the upstream's answer and closes that connection (the upstream writes few of its 43
    events), and serves the next stream in full."""
    words = " ".join(f"w{i}" for i in range(40))
    with OpenAIStubServer(reply=words, stream_chunk_delay_s=0.05) as up:
        pipeline = make_pipeline(None, url=up.chat_url)
        with pipeline.serve(engine=engine, threads=1) as server:
            with requests.post(
                server.url + "/v1/chat/completions",
                json=chat_payload(stream=True),
                stream=True,
                timeout=10,
            ) as r:
                first = next(line for line in r.iter_lines() if line.startswith(b"data: "))
                assert b"chat.completion.chunk" in first
            deadline = time.monotonic() + 5
            while not up.streams_sent and time.monotonic() < deadline:
                time.sleep(0.02)
            cut = list(up.streams_sent)
            after = requests.post(
                server.url + "/v1/chat/completions", json=chat_payload(stream=True), timeout=10
            )
    assert len(cut) == 1 and cut[0] < 20, cut  # ended early, well before its 43rd event
    assert after.status_code == 200 and "w39" in after.text
    assert up.streams_sent[1:] == [43]  # role, 40 words, the finish and [DONE]


def test_percent_encoded_paths_and_repeated_headers_reach_the_upstream(
    upstream, make_pipeline, engine
) -> None:
    with make_pipeline(None, url=upstream.chat_url).serve(engine=engine) as server:
        r = requests.post(
            server.url + "/v1/chat/completions?api-version=2024-01-01&x=a%20b",
            json=chat_payload(),
            headers={"X-Trace": "abc", "User-Agent": "ua/1"},
            timeout=5,
        )
    assert r.status_code == 200
    seen = upstream.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.query == "api-version=2024-01-01&x=a%20b"
    assert seen.headers["X-Trace"] == "abc" and seen.headers["User-Agent"] == "ua/1"
    assert "Content-Length" in seen.headers  # set by the upstream call, never stale


def test_a_client_that_leaves_mid_body_sends_nothing_upstream(
    upstream, make_pipeline, engine
) -> None:
    with make_pipeline(None, url=upstream.chat_url).serve(engine=engine) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                b'{"model": "stub-model", "messages": ['
            )
            time.sleep(0.2)
        time.sleep(0.3)  # the proxy saw the connection close
        after = requests.post(server.url + "/v1/chat/completions", json=chat_payload(), timeout=5)
    assert after.status_code == 200
    assert upstream.request_count == 1  # only the whole request went upstream
