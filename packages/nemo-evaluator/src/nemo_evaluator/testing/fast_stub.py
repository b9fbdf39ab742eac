"""FastStubServer: the stub's answers on a light asyncio HTTP/1.1 server, for benchmarks.

Benchmarks on this 2-core machine share the CPU with their upstream: the Flask + waitress
stub spends about 2.5 ms of CPU per request, which the measured client then cannot use. This
server gives the same deterministic answers (:mod:`nemo_evaluator.testing.responses`) for
``POST /v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models`` and ``/health``
after a fixed latency, at a fraction of that cost: one event loop, keep-alive connections,
the latency waited with ``loop.call_later`` instead of a sleeping thread. It has no fault
injection and no streaming; tests use :class:`~nemo_evaluator.testing.OpenAIStubServer`.

It is hand-written on ``asyncio.Protocol`` because a benchmark's upstream must take as
little of the shared CPU as it can: the same answers as an ASGI app on uvicorn (the
proxy's server, :mod:`nvidia_eval_commons.asgi_server`) cost 0.20 ms of CPU per request at
concurrency 64 against this parser's 0.11 ms (2 cores, December 2026), and the standard
library's ``http.server`` (one thread and an email-parser pass per request) several times
more::

    python -m nemo_evaluator.testing.openai_stub --engine asyncio --latency-s 0.1
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from .responses import Reply, chat_completion, completion, default_reply

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}
_MAX_BODY = 64 * 1024 * 1024


class _Connection(asyncio.Protocol):
    """One keep-alive connection; requests are answered one after another (no pipelining)."""

    def __init__(self, server: FastStubServer) -> None:
        self.server = server
        self.buf = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buf[:head_end].decode("latin-1").split("\r\n")
        method, _, rest = head[0].partition(" ")
        path = rest.rsplit(" ", 1)[0].split("?", 1)[0].rstrip("/") or "/"
        length, close = 0, False
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip() or 0)
            elif name == "connection":
                close = value.strip().lower() == "close"
        if length > _MAX_BODY:
            self._send(413, {"error": {"message": "body too large"}}, close=True)
            return
        end = head_end + 4 + length
        if len(self.buf) < end:
            return
        body, self.buf = self.buf[head_end + 4 : end], self.buf[end:]
        self.busy = True
        status, answer, delay = self.server.answer(method, path, body)
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._send, status, answer, close)
        else:
            self._send(status, answer, close=close)

    def _send(self, status: int, answer: Any, close: bool = False) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return
        body = json.dumps(answer).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        if close:
            self.transport.close()
        elif self.buf:
            self._next()


class FastStubServer:
    """See the module docstring; ``serve_forever`` runs the event loop in this thread."""

    def __init__(
        self,
        *,
        model: str = "stub-model",
        reply: Reply | None = None,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.model = model
        self.reply: Reply = reply or default_reply
        self.latency_s = latency_s
        self.host = host
        self.request_count = 0
        self.loop = asyncio.new_event_loop()
        self._server = self.loop.run_until_complete(
            self.loop.create_server(
                lambda: _Connection(self), host=host, port=port or 0, backlog=1024
            )
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL without ``/v1``: ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any, float]:
        """``(status, JSON answer, delay)`` for one request."""
        if path in ("/health", "/v1/health"):
            return 200, {"status": "ok"}, 0.0
        self.request_count += 1
        if method == "GET" and path == "/v1/models":
            data = [{"id": self.model, "object": "model", "created": 0, "owned_by": "stub"}]
            return 200, {"object": "list", "data": data}, 0.0
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/completions"):
            return 404, {"error": {"message": f"no route {method} {path}"}}, 0.0
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return 400, {"error": {"message": "body must be a JSON object"}}, 0.0
        build = chat_completion if path.endswith("chat/completions") else completion
        return 200, build(payload, model=self.model, reply=self.reply), self.latency_s

    def serve_forever(self) -> None:
        with contextlib.suppress(KeyboardInterrupt):
            self.loop.run_forever()
        self._server.close()
        self.loop.run_until_complete(self._server.wait_closed())
        self.loop.close()
