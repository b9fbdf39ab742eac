"""AdapterServer: the pipeline behind a Flask app served by waitress on loopback.

Every path the client calls (``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``,
...) is forwarded to the upstream base URL with its method, query, headers and body;
``/health`` is answered by the adapter itself. Streamed (SSE) answers pass through unbuffered.
"""

from __future__ import annotations

import errno
import logging
import threading
from http import HTTPStatus
from typing import Any, Protocol

import flask

from nvidia_eval_commons.wsgi_server import WsgiServer

from ..errors import ConfigError
from .interceptor import AdapterRequest, AdapterResponse


class ProxiedPipeline(Protocol):
    """What the server needs of the pipeline it serves (``ProxiedPipeline`` is one)."""

    upstream_url: str

    @property
    def request_timeout(self) -> float: ...

    def handle(self, request: AdapterRequest, *, client_mode: bool) -> AdapterResponse: ...


_log = logging.getLogger(__name__)


def _reason(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class _ProxyRoute:
    """WSGI layer that forwards every path but ``/health`` through the pipeline.

    It works on the WSGI environ directly instead of through Flask's request and response
    objects: the proxy route needs nothing they add, and skipping them takes a measurable
    share of the per-request cost off the hot path (see bench/adapter_overhead.py).
    """

    def __init__(self, pipeline: ProxiedPipeline, flask_wsgi: Any) -> None:
        self.pipeline = pipeline
        self.flask_wsgi = flask_wsgi

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or "/"
        if path == "/health":
            return self.flask_wsgi(environ, start_response)
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = environ.get("CONTENT_LENGTH")
        stream = environ["wsgi.input"]
        body = stream.read(int(length)) if length else stream.read()
        request = AdapterRequest(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=path,
            query=environ.get("QUERY_STRING", ""),
            headers=headers,
            _body=body,
        )
        response = self.pipeline.handle(request, client_mode=False)
        out = list(response.headers.items())
        if response.cache_hit:
            out.append(("X-Adapter-Cache", "hit"))
        if response.attempts > 1:
            out.append(("X-Adapter-Attempts", str(response.attempts)))
        if response.stream is not None:
            start_response(_reason(response.status_code), out)
            return response.stream
        content = response.body
        out.append(("Content-Length", str(len(content))))
        start_response(_reason(response.status_code), out)
        return [content]


def create_app(pipeline: ProxiedPipeline) -> flask.Flask:
    """The Flask app of the proxy (usable with any WSGI server)."""
    app = flask.Flask("nemo_evaluator.adapter")

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok", "upstream": pipeline.upstream_url}

    app.wsgi_app = _ProxyRoute(pipeline, app.wsgi_app)  # type: ignore[method-assign]
    return app


class AdapterServer:
    """A started proxy with ``.url`` and ``.stop()``; a context manager."""

    def __init__(
        self,
        pipeline: ProxiedPipeline,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        threads: int = 16,
    ) -> None:
        self.pipeline = pipeline
        self.host = host
        self.threads = threads
        self.app = create_app(pipeline)
        try:
            self._server = WsgiServer(
                self.app,
                host=host,
                port=port or 0,
                threads=threads,
                name="nemo-evaluator-adapter",
                connection_limit=max(100, threads * 8),
                channel_timeout=max(120, int(pipeline.request_timeout) + 30),
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use; pick another --port "
                    "(or leave it empty for a free one)"
                ) from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
        self.port: int = self._server.port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (clients add ``/v1/...``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> AdapterServer:
        """Serve on a background thread and return at once."""
        self._server.start()
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted (the CLI)."""
        self._server.serve_forever()

    def running_threads(self) -> list[threading.Thread]:
        """The server's loop and worker threads."""
        return self._server.running_threads()

    def stop(self) -> None:
        """Stop listening, close every connection and join every thread; idempotent."""
        self._server.stop()

    def __enter__(self) -> AdapterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
