"""One uvicorn server lifecycle, the event-loop twin of :mod:`.wsgi_server`.

An ASGI app is served by uvicorn (its ``httptools`` parser, the plain ``asyncio`` loop) on a
thread of its own, with the same contract as :class:`~.wsgi_server.WsgiServer`:

- the socket is bound before any thread starts, so a failed start (a busy port) raises the
  ``OSError`` and leaves nothing running;
- ``stop()`` stops accepting, lets running requests finish (up to ``drain_timeout``), closes
  every connection, then joins the loop thread, after which the loop's default executor (the
  threads an app hands blocking work to with ``run_in_executor(None, ...)``) is joined too.

The listening socket is made with ``IPPROTO_TCP`` as its protocol: asyncio turns Nagle's
algorithm off (``TCP_NODELAY``) only on sockets that say so, and uvicorn writes a response's
head and body separately, so on a socket made with protocol 0 every small answer waited
for the client's delayed ACK, 40 ms on Linux.

uvicorn is imported when a server is created, so importing this module costs nothing.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 30.0
_START_TIMEOUT_S = 30.0


def listening_socket(host: str, port: int, *, backlog: int = 2048) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (``SO_REUSEADDR``, as waitress binds:
    connections of a stopped server lingering in TIME_WAIT do not block the port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class AsgiServer:
    """``app`` served by uvicorn on ``host:port`` (0: a free port, read back as ``.port``).

    ``keep_alive_s`` is how long an idle keep-alive connection stays open; ``executor_threads``
    bounds the loop's default executor (named ``<name>-blocking-N``); ``on_stop`` is awaited
    on the loop once the last connection closed, before the loop ends (to close what the app
    opened on it).
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "asgi",
        drain_timeout: float = 10.0,
        keep_alive_s: float = 120.0,
        executor_threads: int = 16,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        import uvicorn

        self.name = name
        self.host = host
        self._socket = listening_socket(host, port)
        self.port = int(self._socket.getsockname()[1])
        self._executor_threads = executor_threads
        self._on_stop = on_stop
        config = uvicorn.Config(
            app,
            http="httptools",
            loop="asyncio",
            lifespan="off",
            log_config=None,  # leave the application's logging alone
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=int(keep_alive_s),
            timeout_graceful_shutdown=int(drain_timeout),
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        async def serve() -> None:
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(
                    max_workers=self._executor_threads, thread_name_prefix=f"{self.name}-blocking"
                )
            )
            try:
                await self._server.serve(sockets=[self._socket])
            finally:
                if self._on_stop is not None:
                    await self._on_stop()

        try:
            # asyncio.run joins the default executor's threads before it returns
            asyncio.run(serve())
        except BaseException as exc:  # reported by start() or logged
            self._failure = exc
            if not self._stopped:
                log.error("%s stopped: %s: %s", self.url, type(exc).__name__, exc)
        finally:
            self._socket.close()

    def start(self) -> AsgiServer:
        """Serve on a background thread; return once it accepts connections (idempotent)."""
        if self._thread is not None or self._stopped:
            return self
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"{self.name} on {self.url} did not start: {self._failure}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} on {self.url} did not start in time")
            time.sleep(0.005)
        return self

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C reaches this thread); then stop."""
        self.start()
        try:
            thread = self._thread
            while thread is not None and thread.is_alive():
                thread.join(timeout=0.5)
        finally:
            self.stop()

    def running_threads(self) -> list[threading.Thread]:
        """The loop thread and the executor threads alive now (for tests that check nothing
        leaks)."""
        loop = [self._thread] if self._thread is not None else []
        prefix = f"{self.name}-blocking"
        return [*loop, *(t for t in threading.enumerate() if t.name.startswith(prefix))]

    def stop(self) -> None:
        """Finish running requests, close every connection, join every thread; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        threads = self.running_threads()
        self._server.should_exit = True
        if self._thread is None:
            self._socket.close()
        for thread in threads:
            thread.join(timeout=_JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("thread %s of %s did not stop in time", thread.name, self.url)

    def __enter__(self) -> AsgiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["AsgiServer", "listening_socket"]
