"""AdapterServer: the pipeline served over HTTP on loopback, on an event loop or on threads.

Two engines serve the same chain (every path but ``/health`` is forwarded to the upstream
base URL with its method, query, headers and body; streamed answers pass through unbuffered):

* ``asyncio`` (the default): :mod:`.asgi_proxy` on uvicorn. One event loop runs the
  interceptors and awaits the upstream, so a request waiting on the upstream holds no thread
  and any number wait at once; ``threads`` bounds only the streamed answers read at a time.
  It costs about half the CPU per request of the other engine (``bench/adapter_overhead.py``).
* ``waitress``: :mod:`.wsgi_proxy`, the Flask app, on waitress with ``threads`` workers; a
  request beyond them waits in waitress's queue.
"""

from __future__ import annotations

import errno
import threading
from typing import Any, Protocol

from ..errors import ConfigError
from .interceptor import AdapterRequest, AdapterResponse

ENGINES = ("asyncio", "waitress")


class ProxiedPipeline(Protocol):
    """What the server needs of the pipeline it serves (``AdapterPipeline`` is one)."""

    upstream_url: str

    @property
    def request_timeout(self) -> float: ...

    def handle(self, request: AdapterRequest, *, client_mode: bool) -> AdapterResponse: ...

    async def ahandle(self, request: AdapterRequest, *, client_mode: bool) -> AdapterResponse: ...

    async def aclose(self) -> None: ...


def _server(pipeline: ProxiedPipeline, *, host: str, port: int, threads: int, engine: str) -> Any:
    name = "nemo-evaluator-adapter"
    # an idle client connection is kept at least as long as one upstream attempt may take
    keep_alive = max(120, int(pipeline.request_timeout) + 30)
    if engine == "asyncio":
        from nvidia_eval_commons.asgi_server import AsgiServer

        from .asgi_proxy import create_asgi_app

        return AsgiServer(
            create_asgi_app(pipeline),
            host=host,
            port=port,
            name=name,
            keep_alive_s=keep_alive,
            executor_threads=threads,
            on_stop=pipeline.aclose,  # the upstream connections opened on the server's loop
        )
    from nvidia_eval_commons.wsgi_server import WsgiServer

    from .wsgi_proxy import create_app

    return WsgiServer(
        create_app(pipeline),
        host=host,
        port=port,
        threads=threads,
        name=name,
        connection_limit=max(100, threads * 8),
        channel_timeout=keep_alive,
    )


class AdapterServer:
    """A started proxy with ``.url`` and ``.stop()``; a context manager."""

    def __init__(
        self,
        pipeline: ProxiedPipeline,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        threads: int = 16,
        engine: str = "asyncio",
    ) -> None:
        if engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        self.pipeline = pipeline
        self.host = host
        self.threads = threads
        self.engine = engine
        try:
            self._server = _server(
                pipeline, host=host, port=port or 0, threads=threads, engine=engine
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
        return str(self._server.url)

    def start(self) -> AdapterServer:
        """Serve on a background thread and return once it accepts connections."""
        self._server.start()
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted (the CLI)."""
        self._server.serve_forever()

    def running_threads(self) -> list[threading.Thread]:
        """The server's loop thread and its worker (or executor) threads."""
        return list(self._server.running_threads())

    def stop(self) -> None:
        """Stop listening, close every connection and join every thread; idempotent."""
        self._server.stop()

    def __enter__(self) -> AdapterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
