"""Helpers shared by the adapter tests."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

from nemo_evaluator.adapters.pipeline import AdapterPipeline
from nemo_evaluator.adapters.upstream import UpstreamConfig


def fast_retries(max_retries: int = 3, request_timeout: float = 5.0) -> UpstreamConfig:
    """Retries with millisecond backoff so fault tests stay fast."""
    return UpstreamConfig(
        max_retries=max_retries,
        request_timeout=request_timeout,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        backoff_jitter_s=0.01,
    )


def chat_payload(text: str = "hello", model: str = "stub-model", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


# -- a raw HTTP/1.1 upstream on loopback, for tests that need to misbehave below HTTP -----------

CHAT_ANSWER = json.dumps(
    {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}
).encode()


def read_request(rfile: BinaryIO) -> bool:
    """Read one request (line, headers, ``Content-Length`` body); False at end of stream."""
    length = 0
    line = rfile.readline()
    if not line:
        return False
    while line not in (b"\r\n", b"\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        line = rfile.readline()
    rfile.read(length)
    return True


class RawUpstream(socketserver.ThreadingTCPServer):
    """A threaded TCP server on 127.0.0.1 whose ``handler`` speaks HTTP by hand, in the way
    named by ``mode``; it counts the requests it read."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[socketserver.BaseRequestHandler], mode: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.mode = mode
        self.requests = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/chat/completions"


S = TypeVar("S", bound=socketserver.BaseServer)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """``server`` answering in a background thread; shut down and closed afterwards."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def send_from_threads(
    pipeline: AdapterPipeline, *, threads: int, each: int, prefix: str = "t"
) -> list[int]:
    """``threads`` threads, started together, each sending ``each`` chat requests in turn
    through ``pipeline``; the status codes of all of them."""
    barrier = threading.Barrier(threads)
    statuses: list[int] = []

    def work() -> None:
        barrier.wait()
        for i in range(each):
            statuses.append(pipeline.send(chat_payload(f"{prefix}{i}")).status_code)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return statuses
