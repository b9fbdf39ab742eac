"""One waitress server lifecycle for the whole stack: bind, then start workers; stop all.

The deploy server (``nemo_eval``), the adapter server and the test stubs (``nemo_evaluator``)
all serve a WSGI app through :class:`WsgiServer`:

- the sockets are bound first and the worker threads started only after that, so a failed
  start (a busy port) leaves no idle workers behind;
- ``stop()`` lets running requests finish (up to ``drain_timeout``), then closes every socket
  of the loop (the listening one, clients' keep-alive connections and the wake-up pipe), then
  joins the loop thread and every worker. A thread that outlived ``stop()`` would drop the last
  reference to the app (and a model behind it) during interpreter shutdown, which can abort
  the process.

waitress is imported when a server is created, so importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 30.0


def _dispatcher(name: str) -> Any:
    from waitress.task import ThreadedTaskDispatcher

    class JoinableDispatcher(ThreadedTaskDispatcher):  # type: ignore[misc]  # untyped
        """waitress's task dispatcher, keeping its worker threads so that stop() joins them.

        waitress's ``create_server`` takes it through ``_dispatcher`` and leaves starting the
        threads (``set_thread_count``) to the caller; waitress itself keeps no thread objects.
        """

        def __init__(self) -> None:
            super().__init__()
            self.started: list[threading.Thread] = []

        def start_new_thread(self, target: Any, thread_no: int) -> None:
            thread = threading.Thread(
                target=target, name=f"{name}-worker-{thread_no}", args=(thread_no,), daemon=True
            )
            self.started.append(thread)
            thread.start()

    return JoinableDispatcher()


class WsgiServer:
    """``app`` served by waitress on ``host:port`` (0: a free port, read back as ``.port``).

    Binding errors propagate as the ``OSError`` waitress raised (``errno.EADDRINUSE`` for a
    busy port), with no thread started; callers turn them into their own one-line errors.
    ``options`` are passed to waitress (``connection_limit``, ``channel_timeout``, ...).
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 16,
        name: str = "wsgi",
        drain_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        from waitress.server import create_server

        self.name = name
        self.drain_timeout = drain_timeout
        self._dispatcher = _dispatcher(name)
        self._server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident=name,
            _dispatcher=self._dispatcher,
            **options,
        )
        # started once the sockets are bound, so a failed start leaves no idle workers behind
        self._dispatcher.set_thread_count(threads)
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # raised when stop() closes the sockets
            self._server.run()

    def start(self) -> WsgiServer:
        """Serve on a background thread and return at once (idempotent)."""
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted; then stop."""
        try:
            self._run()
        finally:
            self.stop()

    def running_threads(self) -> list[threading.Thread]:
        """The loop thread and the workers (for tests that check nothing leaks)."""
        loop = [self._thread] if self._thread is not None else []
        return [*loop, *self._dispatcher.started]

    def stop(self) -> None:
        """Finish running requests, close every socket, join every thread; idempotent."""
        from waitress import wasyncore

        if self._stopped:
            return
        self._stopped = True
        self._dispatcher.shutdown(timeout=self.drain_timeout)
        loop = self._thread
        if loop is not None and loop.is_alive():
            # close the sockets on the loop's own thread (woken through its trigger), so the
            # loop ends now instead of after its select timeout
            with contextlib.suppress(OSError):
                self._server.trigger.pull_trigger(
                    lambda: wasyncore.close_all(self._server._map, ignore_all=True)
                )
            loop.join(timeout=5)
        # ``close()`` alone closes only the listening socket; close whatever is left
        with contextlib.suppress(OSError):
            self._server.close()
        wasyncore.close_all(self._server._map, ignore_all=True)
        for thread in self.running_threads():
            thread.join(timeout=_JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("thread %s of %s did not stop in time", thread.name, self.url)

    def __enter__(self) -> WsgiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["WsgiServer"]
