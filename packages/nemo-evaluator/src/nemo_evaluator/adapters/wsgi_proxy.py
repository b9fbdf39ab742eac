"""The proxy as a Flask app (WSGI): the pipeline's chain on the server's worker threads.

Every path the client calls (``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``,
...) is forwarded to the upstream base URL with its method, query, headers and body;
``/health`` is answered by Flask. Streamed (SSE) answers pass through unbuffered. Served by
waitress in :class:`~.server.AdapterServer` (``engine="waitress"``); any WSGI server can
serve it::

    app = create_app(pipeline)
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Protocol

import flask

from .interceptor import AdapterRequest, AdapterResponse


class ThreadedPipeline(Protocol):
    """What the app needs of the pipeline it serves (``AdapterPipeline`` is one)."""

    upstream_url: str

    def handle(self, request: AdapterRequest, *, client_mode: bool) -> AdapterResponse: ...


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

    def __init__(self, pipeline: ThreadedPipeline, flask_wsgi: Any) -> None:
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
        out = response.proxy_headers()
        if response.stream is not None:
            start_response(_reason(response.status_code), out)
            return response.stream
        content = response.body
        out.append(("Content-Length", str(len(content))))
        start_response(_reason(response.status_code), out)
        return [content]


def create_app(pipeline: ThreadedPipeline) -> flask.Flask:
    """The Flask app of the proxy (usable with any WSGI server)."""
    app = flask.Flask("nemo_evaluator.adapter")

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok", "upstream": pipeline.upstream_url}

    app.wsgi_app = _ProxyRoute(pipeline, app.wsgi_app)  # type: ignore[method-assign]
    return app


__all__ = ["create_app"]
