"""OpenAIStubServer: a real OpenAI-compatible model server on loopback, with injectable faults.

It is a Flask app served by waitress on ``127.0.0.1`` (a free port unless one is given) that
answers ``/v1/chat/completions``, ``/v1/completions`` (prompt lists, ``echo``, ``logprobs``,
``n``, ``stop``, ``max_tokens``, SSE streaming) and ``/v1/models`` like a model server, with
deterministic answers (see :mod:`nemo_evaluator.testing.responses`)::

    from nemo_evaluator.testing import OpenAIStubServer

    with OpenAIStubServer(model="stub-model") as upstream:
        upstream.url                      # http://127.0.0.1:PORT  (base_url adds /v1)
        upstream.fail(status=500, times=2)             # 500, 500, then normal answers
        upstream.fail(status=429, times=1, retry_after=1)
        upstream.slow(delay_s=2.0, times=1)            # one answer 2 s late
        upstream.non_json(times=1)                     # 200 with a body that is not JSON
        upstream.reset(times=1)                        # connection closed mid-body
        upstream.latency_s = 0.01                      # fixed latency on every answer
        upstream.requests                              # what it received (bounded)
        upstream.streams_sent                          # events written per ended SSE stream
    OpenAIStubServer.closed_url()                      # an upstream that is down

Faults queue up and apply, in order, to the next requests of the generation routes
(``/v1/chat/completions``, ``/v1/completions``). ``GET /v1/models`` (what a client's pre-flight
check asks) never fails and is counted apart, in ``models_requests``; ``/health`` never fails.
With ``api_key="..."`` every ``/v1`` route answers 401 unless ``Authorization: Bearer <key>``. Run it alone with ``python -m nemo_evaluator.testing.openai_stub``.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import flask

from nvidia_eval_commons.net import free_port
from nvidia_eval_commons.wsgi_server import WsgiServer

from .responses import Reply, chat_completion, completion, default_reply, sse_stream

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .fast_stub import FastStubServer


@dataclass
class Fault:
    """One queued misbehaviour: ``kind`` is status, slow, non_json or reset."""

    kind: str
    times: int = 1
    status: int = 500
    retry_after: float | None = None
    delay_s: float = 0.0
    body: str | None = None


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    time: float = field(default_factory=time.time)
    query: str = ""
    """The query string as it arrived (still percent-encoded)."""


class OpenAIStubServer:
    """See the module docstring."""

    def __init__(
        self,
        *,
        model: str = "stub-model",
        reply: Reply | str | None = None,
        latency_s: float = 0.0,
        stream_chunk_delay_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int | None = None,
        threads: int = 8,
        record_limit: int = 10_000,
        api_key: str | None = None,
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.models_requests = 0
        if isinstance(reply, str):
            text = reply
            self.reply: Reply = lambda _p, _d: text
        else:
            self.reply = reply or default_reply
        self.latency_s = latency_s
        self.stream_chunk_delay_s = stream_chunk_delay_s
        self.host = host
        self._faults: collections.deque[Fault] = collections.deque()
        self._lock = threading.Lock()
        self._records: collections.deque[RecordedRequest] = collections.deque(maxlen=record_limit)
        self.request_count = 0
        self.streams_sent: list[int] = []
        """For each streamed answer that ended, how many events were written: all of them,
        or fewer when the client closed the connection first (bounded like ``requests``)."""
        self.app = self._create_app()
        self._server = WsgiServer(
            self.app,
            host=host,
            port=port or 0,
            threads=threads,
            name="openai-stub",
            drain_timeout=1.0,
            connection_limit=1000,
        )
        self.port = self._server.port

    # -- public API -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL without ``/v1``: ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``url + "/v1"`` (what the openai client takes as ``base_url``)."""
        return self.url + "/v1"

    @property
    def chat_url(self) -> str:
        return self.base_url + "/chat/completions"

    @property
    def completions_url(self) -> str:
        return self.base_url + "/completions"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def fail(
        self,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: float | None = None,
        body: str | None = None,
    ) -> OpenAIStubServer:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After`` if given)."""
        return self._queue(
            Fault("status", times, status=status, retry_after=retry_after, body=body)
        )

    def slow(self, *, delay_s: float, times: int = 1) -> OpenAIStubServer:
        """Delay the next ``times`` answers by ``delay_s`` seconds."""
        return self._queue(Fault("slow", times, delay_s=delay_s))

    def non_json(self, *, times: int = 1) -> OpenAIStubServer:
        """Answer the next ``times`` requests with status 200 and a body that is not JSON."""
        return self._queue(Fault("non_json", times))

    def reset(self, *, times: int = 1) -> OpenAIStubServer:
        """Close the connection in the middle of the next ``times`` answers' bodies."""
        return self._queue(Fault("reset", times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @staticmethod
    def closed_url() -> str:
        """``http://127.0.0.1:PORT`` of a port nothing listens on (an upstream that is down)."""
        return f"http://127.0.0.1:{free_port()}"

    def start(self) -> OpenAIStubServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> OpenAIStubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------------------

    def _queue(self, fault: Fault) -> OpenAIStubServer:
        with self._lock:
            self._faults.append(fault)
        return self

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._faults.popleft()
            return fault

    def _record(self, req: flask.Request, payload: Any) -> None:
        with self._lock:
            self.request_count += 1
            self._records.append(
                RecordedRequest(
                    req.method,
                    req.path,
                    dict(req.headers),
                    payload,
                    query=req.query_string.decode("latin-1"),
                )
            )

    def _faulty(self, fault: Fault, answer: bytes) -> flask.Response | None:
        if fault.kind == "slow":
            time.sleep(fault.delay_s)
            return None
        if fault.kind == "status":
            body = fault.body or flask.json.dumps(
                {"error": {"message": f"stub failure {fault.status}", "type": "stub_error"}}
            )
            headers = {"Content-Type": "application/json"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            return flask.Response(body, status=fault.status, headers=headers)
        if fault.kind == "non_json":
            return flask.Response("<html>upstream garbage</html>", status=200, mimetype="text/html")
        if fault.kind == "reset":
            half = answer[: max(1, len(answer) // 2)]
            # Content-Length promises the whole body; waitress closes after half of it.
            return flask.Response(
                iter([half]),
                status=200,
                headers={"Content-Type": "application/json", "Content-Length": str(len(answer))},
                direct_passthrough=True,
            )
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _answer(self, kind: str) -> flask.Response:
        req = flask.request
        payload = req.get_json(silent=True)
        self._record(req, payload)
        if not isinstance(payload, dict):
            return flask.Response(
                flask.json.dumps({"error": {"message": "body must be a JSON object"}}),
                status=400,
                mimetype="application/json",
            )
        if self.latency_s:
            time.sleep(self.latency_s)
        chat = kind == "chat"
        build = chat_completion if chat else completion
        full = build(payload, model=self.model, reply=self.reply)
        answer = flask.json.dumps(full).encode()
        fault = self._next_fault()
        if fault is not None:
            faulty = self._faulty(fault, answer)
            if faulty is not None:
                return faulty
        if payload.get("stream"):
            return flask.Response(
                self._counted(sse_stream(full, chat=chat, delay_s=self.stream_chunk_delay_s)),
                mimetype="text/event-stream",
                direct_passthrough=True,
            )
        return flask.Response(answer, status=200, mimetype="application/json")

    def _counted(self, events: Iterator[bytes]) -> Iterator[bytes]:
        sent = 0
        try:
            for event in events:
                yield event
                sent += 1  # the server took it: the next one is asked for
        finally:
            with self._lock:
                self.streams_sent.append(sent)
                if len(self.streams_sent) > (self._records.maxlen or 0):
                    del self.streams_sent[0]

    def _create_app(self) -> flask.Flask:
        app = flask.Flask("nemo_evaluator.testing.openai_stub")
        app.url_map.strict_slashes = False

        @app.post("/v1/chat/completions")
        def chat() -> flask.Response:
            return self._answer("chat")

        @app.post("/v1/completions")
        def completions() -> flask.Response:
            return self._answer("completions")

        @app.before_request
        def check_key() -> Any:
            given = flask.request.headers.get("Authorization", "")
            if (
                self.api_key is not None
                and flask.request.path.startswith("/v1")
                and given != f"Bearer {self.api_key}"
            ):
                return flask.Response(
                    flask.json.dumps({"error": {"message": "invalid API key"}}),
                    status=401,
                    mimetype="application/json",
                )
            return None

        @app.get("/v1/models")
        def models() -> Any:
            with self._lock:
                self.models_requests += 1
            return {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "stub"}],
            }

        @app.get("/health")
        @app.get("/v1/health")
        def health() -> Any:
            return {"status": "ok"}

        return app


def main(argv: list[str] | None = None) -> None:
    """``python -m nemo_evaluator.testing.openai_stub --port 8080 [--latency-s 0.01]``."""
    import argparse

    parser = argparse.ArgumentParser(description="OpenAI-compatible stub model server (loopback)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default="stub-model")
    parser.add_argument("--latency-s", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--engine",
        choices=("waitress", "asyncio"),
        default="waitress",
        help="asyncio: the light benchmark server (fixed latency, no faults; fast_stub.py)",
    )
    args = parser.parse_args(argv)
    server: OpenAIStubServer | FastStubServer
    if args.engine == "asyncio":
        from .fast_stub import FastStubServer

        server = FastStubServer(model=args.model, latency_s=args.latency_s, port=args.port)
    else:
        server = OpenAIStubServer(
            model=args.model, latency_s=args.latency_s, port=args.port, threads=args.threads
        )
    print(f"listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
