"""Time bounds: a whole-attempt deadline, a per-sample deadline, and non-UTF-8 bodies.

The upstream here is a real HTTP/1.1 server on loopback that misbehaves on purpose: it sends a
valid answer one byte at a time (headers included, or the body only), or a body that is not
UTF-8.
"""

from __future__ import annotations

import asyncio
import json
import socketserver
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from adapter_support import CHAT_ANSWER, RawUpstream, read_request, serving

from nemo_evaluator.adapters import deadline
from nemo_evaluator.adapters.deadline import Watch, watch_connection
from nemo_evaluator.adapters.interceptor import AdapterResponse
from nemo_evaluator.adapters.pipeline import AdapterPipeline
from nemo_evaluator.core.evaluate import evaluate


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: MisbehavingServer = self.server  # type: ignore[assignment]
        while read_request(self.rfile):
            with server.lock:
                server.requests += 1
            body = (
                b'{"choices": [{"text": "\xff\xfe bad"}]}'
                if server.mode == "latin"
                else CHAT_ANSWER
            )
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            try:
                if server.mode == "trickle_all":
                    self._trickle(head + body, server.gap_s)
                elif server.mode == "trickle_body":
                    self.wfile.write(head)
                    self.wfile.flush()
                    self._trickle(body, server.gap_s)
                else:
                    self.wfile.write(head + body)
                    self.wfile.flush()
            except OSError:
                return

    def _trickle(self, data: bytes, gap_s: float) -> None:
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(gap_s)


class MisbehavingServer(RawUpstream):
    """Trickles its answers ``gap_s`` apart per byte, or sends a body that is not UTF-8."""

    def __init__(self, mode: str, gap_s: float = 0.1) -> None:
        super().__init__(_Handler, mode)
        self.gap_s = gap_s


@pytest.fixture
def misbehaving(request: pytest.FixtureRequest) -> Iterator[MisbehavingServer]:
    with serving(MisbehavingServer(request.param)) as server:
        yield server


def _call(
    url: str, tmp_path: Path, via: str = "send", **upstream: object
) -> tuple[int, dict, float, int]:
    """One call through ``send`` (threads) or ``asend`` (the evaluate core's event loop)."""
    pipeline = AdapterPipeline.from_config(None, upstream_url=url, output_dir=tmp_path, **upstream)  # type: ignore[arg-type]
    payload = {"model": "m", "messages": [{"role": "user", "content": "q"}]}

    async def on_a_loop() -> AdapterResponse:
        try:
            return await pipeline.asend(payload)
        finally:
            await pipeline.aclose()

    start = time.monotonic()
    try:
        resp = pipeline.send(payload) if via == "send" else asyncio.run(on_a_loop())
    finally:
        pipeline.close()
    return resp.status_code, resp.json_or_none() or {}, time.monotonic() - start, resp.attempts


@pytest.mark.parametrize("via", ["send", "asend"])
@pytest.mark.parametrize("misbehaving", ["trickle_all", "trickle_body"], indirect=True)
def test_a_trickling_upstream_is_cut_off_at_request_timeout(
    misbehaving: MisbehavingServer, tmp_path: Path, via: str
) -> None:
    # the answer takes about 0.1 s per byte: well over 10 s in all
    status, body, elapsed, attempts = _call(
        misbehaving.url, tmp_path, via, request_timeout=1.0, max_retries=0
    )
    assert status == 504
    assert "request_timeout=1s" in body["error"]["message"]
    assert attempts == 1
    assert 0.9 <= elapsed < 3.0  # the deadline, not 10+ s of trickle


@pytest.mark.parametrize("via", ["send", "asend"])
@pytest.mark.parametrize("misbehaving", ["trickle_body"], indirect=True)
def test_sample_timeout_bounds_all_retries(
    misbehaving: MisbehavingServer, tmp_path: Path, via: str
) -> None:
    status, _body, elapsed, attempts = _call(
        misbehaving.url, tmp_path, via, request_timeout=0.8, max_retries=10, sample_timeout=2.0
    )
    assert status == 504
    assert 2 <= attempts <= 4  # 10 retries would take over 8 s
    assert elapsed < 4.0


@pytest.mark.parametrize("misbehaving", ["fine"], indirect=True)
def test_a_fast_answer_is_not_affected(misbehaving: MisbehavingServer, tmp_path: Path) -> None:
    for _ in range(3):  # a kept-alive connection is reused after its deadline was cancelled
        status, body, _elapsed, attempts = _call(misbehaving.url, tmp_path, request_timeout=0.5)
        assert status == 200 and body["choices"][0]["message"]["content"] == "hi"
        assert attempts == 1
    time.sleep(0.7)  # past the old deadlines: nothing fires on an idle or reused socket
    assert _call(misbehaving.url, tmp_path, request_timeout=0.5)[0] == 200


@pytest.mark.parametrize("misbehaving", ["latin"], indirect=True)
def test_non_utf8_body_is_reported_as_such_and_not_retried(
    misbehaving: MisbehavingServer, tmp_path: Path
) -> None:
    evaluate(
        target_cfg={
            "api_endpoint": {
                "url": misbehaving.url.replace("chat/completions", "completions"),
                "model_id": "m",
            }
        },
        eval_cfg={
            "type": "gsm8k",
            "output_dir": str(tmp_path),
            "params": {
                "limit_samples": 1,
                "max_retries": 3,
                "extra": {
                    "quiet": True,
                    "dataset": "sample",
                    "max_error_fraction": 1.0,
                    "preflight": False,
                },
            },
        },
    )
    sample = json.loads((tmp_path / "samples.jsonl").read_text().splitlines()[0])
    assert "not valid UTF-8 (byte 0xff at offset" in sample["error"]
    assert "not JSON" not in sample["error"]
    assert misbehaving.requests == 1


def test_cancelled_watches_do_not_pile_up_until_their_deadline() -> None:
    class Conn:
        sock = None

    far = time.monotonic() + 300.0
    live = [Watch(far) for _ in range(10)]
    for w in live:
        watch_connection(w, Conn())
    try:
        for _ in range(5000):  # quick attempts, each over long before its deadline
            w = Watch(far)
            watch_connection(w, Conn())
            w.cancel()
        queued = {entry[2] for entry in deadline._WATCHER._heap}
        assert len(queued) <= 2 * deadline._MIN_COMPACT  # not 5,010
        assert set(live) <= queued  # the ones in flight are still watched
    finally:
        for w in live:
            w.cancel()
