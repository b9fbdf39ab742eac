"""AdapterServer: the pipeline behind a Flask app served by waitress on loopback.

Every path the client calls (``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``,
...) is forwarded to the upstream base URL with its method, query, headers and body;
``/health`` is answered by the adapter itself. Streamed (SSE) answers pass through unbuffered.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import flask
from waitress import wasyncore
from waitress.server import create_server

from ..errors import ConfigError
from .types import AdapterRequest

if TYPE_CHECKING:
    from .pipeline import AdapterPipeline

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

    def __init__(self, pipeline: AdapterPipeline, flask_wsgi: Any) -> None:
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


def create_app(pipeline: AdapterPipeline) -> flask.Flask:
    """The Flask app of the proxy (usable with any WSGI server)."""
    app = flask.Flask("nemo_evaluator.adapter")

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok", "upstream": pipeline.upstream_url}

    app.wsgi_app = _ProxyRoute(pipeline, app.wsgi_app)  # type: ignore[method-assign]
    return app


def stop_waitress(server: Any, thread: threading.Thread | None) -> None:
    """Stop a waitress server running on ``thread`` at once.

    The sockets are closed by a thunk on waitress's own loop thread (woken through its
    trigger), so the loop ends now instead of after its select timeout.
    """
    if thread is not None and thread.is_alive():
        with contextlib.suppress(OSError):  # trigger already closed
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=5)
    else:
        wasyncore.close_all(server._map)
    server.task_dispatcher.shutdown()


class AdapterServer:
    """A started proxy with ``.url`` and ``.stop()``; a context manager."""

    def __init__(
        self,
        pipeline: AdapterPipeline,
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
            self._server: Any = create_server(
                self.app,
                host=host,
                port=port or 0,
                threads=threads,
                connection_limit=max(100, threads * 8),
                channel_timeout=max(120, int(pipeline.upstream.config.request_timeout) + 30),
                ident="nemo-evaluator-adapter",
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use; pick another --port "
                    "(or leave it empty for a free one)"
                ) from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
        self.port: int = int(self._server.effective_port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (clients add ``/v1/...``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> AdapterServer:
        """Serve on a background thread and return at once."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.run, name=f"adapter-{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted (the CLI)."""
        try:
            self._server.run()
        finally:
            self._server.close()

    def stop(self) -> None:
        """Stop listening and wait for the serving thread; idempotent."""
        stop_waitress(self._server, self._thread)
        self._thread = None

    def __enter__(self) -> AdapterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
