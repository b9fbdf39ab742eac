"""Keep-alive connections to the upstream: reused while they last, replaced when the server
closed them, never counted as a retry when only a kept-alive connection went stale.

The upstream is a real HTTP/1.1 server on loopback that counts the connections it accepts
and, on purpose, closes them in the ways servers do (after an answer, or with a request read
and left unanswered, as when an idle timeout races a new request).
"""

from __future__ import annotations

import socketserver
from collections.abc import Iterator

import pytest
from adapter_support import (
    CHAT_ANSWER,
    RawUpstream,
    chat_payload,
    fast_retries,
    read_request,
    send_from_threads,
    serving,
)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: CountingServer = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections += 1
        served = 0
        while read_request(self.rfile):
            with server.lock:
                server.requests += 1
            if server.mode == "unanswered_second" and served == 1:
                return  # read, never answered: the connection just closes
            extra = "Connection: close\r\n" if server.mode == "connection_close" else ""
            self.wfile.write(
                (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"{extra}Content-Length: {len(CHAT_ANSWER)}\r\n\r\n"
                ).encode()
                + CHAT_ANSWER
            )
            self.wfile.flush()
            served += 1
            if server.mode in ("close_after_answer", "connection_close"):
                return


class CountingServer(RawUpstream):
    """Also counts the connections it accepts."""

    def __init__(self, mode: str) -> None:
        super().__init__(_Handler, mode)
        self.connections = 0


@pytest.fixture
def counting(request: pytest.FixtureRequest) -> Iterator[CountingServer]:
    with serving(CountingServer(request.param)) as server:
        yield server


@pytest.mark.parametrize("counting", ["keep_alive"], indirect=True)
def test_one_connection_serves_sequential_requests(counting, make_pipeline) -> None:
    pipeline = make_pipeline(None, url=counting.url)
    answers = [pipeline.send(chat_payload(f"q{i}")) for i in range(5)]
    assert [(r.status_code, r.attempts) for r in answers] == [(200, 1)] * 5
    assert answers[-1].json()["choices"][0]["message"]["content"] == "hi"
    assert (counting.connections, counting.requests) == (1, 5)


@pytest.mark.parametrize("counting", ["close_after_answer", "connection_close"], indirect=True)
def test_a_connection_the_server_closed_is_replaced_without_a_retry(
    counting, make_pipeline
) -> None:
    pipeline = make_pipeline(None, url=counting.url)
    answers = [pipeline.send(chat_payload(f"q{i}")) for i in range(3)]
    assert [(r.status_code, r.attempts) for r in answers] == [(200, 1)] * 3
    assert (counting.connections, counting.requests) == (3, 3)


@pytest.mark.parametrize("counting", ["unanswered_second"], indirect=True)
def test_a_request_lost_on_a_stale_connection_is_sent_again_on_a_new_one(
    counting, make_pipeline
) -> None:
    pipeline = make_pipeline(None, url=counting.url)
    first = pipeline.send(chat_payload("a"))
    second = pipeline.send(chat_payload("b"))
    assert (first.status_code, first.attempts) == (200, 1)
    # the kept-alive connection took the request and closed: sent again at once on a new
    # connection, not a retry with backoff
    assert (second.status_code, second.attempts) == (200, 1)
    assert (counting.connections, counting.requests) == (2, 3)
    assert pipeline.stats()["retries"] == 0


@pytest.mark.parametrize("counting", ["keep_alive"], indirect=True)
def test_concurrent_requests_open_at_most_one_connection_each(counting, make_pipeline) -> None:
    pipeline = make_pipeline(None, url=counting.url)
    statuses = send_from_threads(pipeline, threads=4, each=10)
    assert statuses == [200] * 40
    assert 1 <= counting.connections <= 4 and counting.requests == 40


@pytest.mark.parametrize("counting", ["keep_alive"], indirect=True)
def test_the_pool_keeps_at_most_pool_maxsize_idle_connections(counting, make_pipeline) -> None:
    config = fast_retries().model_copy(update={"pool_maxsize": 1})
    pipeline = make_pipeline(None, url=counting.url, upstream_config=config)
    statuses = send_from_threads(pipeline, threads=3, each=5)
    assert statuses == [200] * 15
    idle = pipeline.upstream.pool._idle
    assert sum(len(conns) for conns in idle.values()) == 1  # the others were closed
    opened = counting.connections
    for i in range(3):  # one at a time: the kept connection serves them all
        assert pipeline.send(chat_payload(f"s{i}")).status_code == 200
    assert counting.connections == opened
