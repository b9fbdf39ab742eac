"""The light asyncio stub (``--engine asyncio``) gives the Flask stub's answers after its latency."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import openai
import pytest
import requests

from nemo_evaluator.testing import OpenAIStubServer


@pytest.fixture(scope="module")
def fast_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "nemo_evaluator.testing.openai_stub"),
            *("--engine", "asyncio", "--latency-s", "0.2", "--model", "fast-model"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        yield line.split("listening on ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _strip_ids(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("id", "created")}


def test_same_answers_as_the_flask_stub(fast_url: str) -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi there"}]}
    comp = {"model": "m", "prompt": ["The cat", "A dog"], "echo": True, "logprobs": 2}
    with OpenAIStubServer(model="fast-model") as ref:
        for path, body in (("/v1/chat/completions", chat), ("/v1/completions", comp)):
            ours = requests.post(fast_url + path, json=body, timeout=10)
            theirs = requests.post(ref.url + path, json=body, timeout=10)
            assert ours.status_code == theirs.status_code == 200
            assert _strip_ids(ours.json()) == _strip_ids(theirs.json())


def test_waits_the_latency_and_keeps_the_connection(fast_url: str) -> None:
    with requests.Session() as session:
        times = []
        for _ in range(2):
            start = time.perf_counter()
            r = session.post(
                fast_url + "/v1/completions", json={"model": "m", "prompt": "x"}, timeout=10
            )
            times.append(time.perf_counter() - start)
            assert r.status_code == 200
            assert r.headers["Connection"] == "keep-alive"
    assert all(0.19 <= t < 2.0 for t in times), times


def test_openai_client_models_and_errors(fast_url: str) -> None:
    client = openai.OpenAI(base_url=fast_url + "/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["fast-model"]
    out = client.chat.completions.create(
        model="fast-model", messages=[{"role": "user", "content": "two words"}], max_tokens=2
    )
    assert out.choices[0].message.content == "Echo: two"
    assert out.choices[0].finish_reason == "length"
    bad = requests.post(fast_url + "/v1/completions", data=b"not json", timeout=10)
    assert bad.status_code == 400 and "JSON object" in bad.json()["error"]["message"]
    assert requests.get(fast_url + "/v1/nothing", timeout=10).status_code == 404
    assert requests.get(fast_url + "/health", timeout=10).json() == {"status": "ok"}
