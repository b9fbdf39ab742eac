"""Caching: persistent SQLite (WAL), keyed by body + URL + model, safe across threads,
processes and crashes; only successes stored; a hit never reaches upstream."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from adapter_support import chat_payload

from nemo_evaluator.adapters.adapter_config import AdapterConfig
from nemo_evaluator.adapters.interceptor import AdapterRequest
from nemo_evaluator.adapters.interceptors.caching import ResponseCache, cache_key


def test_hits_survive_a_restart_and_never_reach_upstream(upstream, make_pipeline, tmp_path) -> None:
    cfg = AdapterConfig(use_caching=True, caching_dir=str(tmp_path / "cache"))
    first = make_pipeline(cfg, url=upstream.chat_url)
    a = first.send(chat_payload("q"))
    first.close()
    second = make_pipeline(cfg, url=upstream.chat_url, output_dir=tmp_path / "other")
    b = second.send(chat_payload("q"))
    assert (a.cache_hit, b.cache_hit) == (False, True)
    assert (b.attempts, b.content) == (0, a.content)
    assert upstream.request_count == 1
    assert second.stats()["interceptors"]["caching"]["cache_hits"] == 1


def test_key_covers_model_url_and_canonical_body() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    reordered = {"temperature": 0, "messages": [{"content": "x", "role": "user"}], "model": "m"}
    key = cache_key(body, url="http://h/v1/chat/completions", model="m")
    assert cache_key(reordered, url="http://h/v1/chat/completions", model="m") == key
    assert cache_key(body, url="http://other/v1/chat/completions", model="m") != key
    assert cache_key(body, url="http://h/v1/chat/completions", model="m2") != key


def test_keys_of_caches_written_before_still_match() -> None:
    # the key as every earlier release computed it: SHA-256 of the URL, the model and json's
    # compact sorted UTF-8 encoding of the body (now made by orjson where it is the same)
    body = {
        "model": "m",
        "prompt": ["Frage: Größe? ∃x 😀\nAntwort:", "\u2028\x00"],
        "temperature": 0.0,
        "top_p": 0.95,
        "logprobs": 1,
        "echo": True,
        "seed": 2**40,
        "stop": ("Q:", "\n\n"),
        "tiny": 1e-05,
    }
    url = "http://h/v1/completions"
    canonical = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(f"{url}\x00m\x00".encode() + canonical.encode()).hexdigest()
    assert cache_key(body, url=url, model="m") == digest
    assert cache_key({**body, "tiny": 0.5}, url=url, model="m") != digest


def test_the_wire_encoding_is_the_key_encoding(upstream, make_pipeline, monkeypatch) -> None:
    # a body encoded here is encoded once: the bytes sent are the bytes the key hashes
    import nemo_evaluator.adapters.interceptor as interceptor

    encodes = []
    wire_dumps = interceptor.dumps
    monkeypatch.setattr(interceptor, "dumps", lambda obj: encodes.append(1) or wire_dumps(obj))
    payload = {"temperature": 0, "model": "m", "messages": [{"role": "user", "content": "é x"}]}
    cfg = AdapterConfig(use_caching=True, use_request_logging=True)
    pipeline = make_pipeline(cfg, url=upstream.chat_url)
    assert not pipeline.send(payload).cache_hit
    assert len(encodes) == 1
    assert upstream.requests[-1].json == payload
    # received bytes in another key order (proxy mode) still map to the same key
    request = AdapterRequest(_body=json.dumps(payload).encode())
    assert request.canonical_body() == wire_dumps(payload) != request.body
    key = cache_key(payload, url=upstream.chat_url, model="m")
    assert (
        cache_key(payload, url=upstream.chat_url, model="m", canonical=wire_dumps(payload)) == key
    )


def test_one_model_never_gets_another_models_answer(upstream, make_pipeline) -> None:
    pipeline = make_pipeline(AdapterConfig(use_caching=True), url=upstream.chat_url)
    pipeline.send(chat_payload("q", model="model-a"))
    other = pipeline.send(chat_payload("q", model="model-b"))
    assert not other.cache_hit and other.json()["model"] == "model-b"
    assert upstream.request_count == 2


def test_only_successes_are_stored(upstream, make_pipeline) -> None:
    pipeline = make_pipeline(AdapterConfig(use_caching=True), url=upstream.chat_url)
    upstream.fail(status=404, times=1)
    assert pipeline.send(chat_payload()).status_code == 404
    assert pipeline.send(chat_payload()).status_code == 200
    assert pipeline.send(chat_payload()).cache_hit
    assert len(pipeline.interceptors[-1].cache) == 1


def _writer(path: str, worker: int, n: int) -> None:
    cache = ResponseCache(Path(path))
    for i in range(n):
        cache.put(f"{worker}-{i}", 200, "application/json", b'{"w": %d}' % worker)
    cache.close()


def test_many_processes_write_one_cache(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 100)) for w in range(3)]
    for p in procs:
        p.start()
    _writer(str(tmp_path), 9, 100)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    cache = ResponseCache(tmp_path)
    assert len(cache) == 400
    assert cache.get("2-99") == (200, "application/json", b'{"w": 2}')
    cache.close()


_CRASH_WRITER = """
import sys
from pathlib import Path
from nemo_evaluator.adapters.interceptors.caching import ResponseCache
cache = ResponseCache(Path(sys.argv[1]))
i = 0
while True:
    cache.put(f"k{i}", 200, "application/json", b"x" * 20000)
    i += 1
    if i == 50:
        cache.flush()
        print("ready", flush=True)
"""


def test_a_crash_mid_write_leaves_a_usable_cache(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASH_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    conn = sqlite3.connect(tmp_path / "cache.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    cache = ResponseCache(tmp_path)
    assert len(cache) >= 50
    assert cache.get("k0") == (200, "application/json", b"x" * 20000)
    cache.put("after", 200, None, b"{}")
    assert cache.get("after") is not None
    cache.close()
