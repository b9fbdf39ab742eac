"""Pieces every serving backend shares: the backend interface and the HTTP front server.

Every backend serves the same OpenAI API through an in-process Flask app behind waitress; the
backends differ in where the engine runs and who batches requests (our queue, Triton's
dynamic batcher, Ray Serve's ``@serve.batch``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from waitress.task import ThreadedTaskDispatcher

from ..engines.base import Engine, EngineSpec, GenerateRequest, GenerateResult
from ..errors import PortInUseError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendOptions:
    """What ``deploy()`` tells every serving backend; each uses the fields it needs."""

    model_name: str
    max_batch_size: int
    num_replicas: int
    num_cpus_per_replica: float | None
    run_dir: Path
    start_timeout: float


class ServingBackend(Protocol):
    """Runs the engine somewhere and answers batches of requests.

    Backend classes are looked up by name in ``nvidia_eval_commons.api.plugins.SERVING_BACKENDS``
    and built with ``create(spec, options=...)``.
    """

    name: str
    text: Engine
    """Tokenizer side of the model, used by the HTTP layer."""

    def submit(self, requests: list[GenerateRequest]) -> list[GenerateResult]: ...

    def stop(self) -> None: ...


class ServingBackendClass(Protocol):
    """The class side of a backend: how ``deploy()`` builds one."""

    def create(self, spec: EngineSpec, *, options: BackendOptions) -> ServingBackend: ...


def check_port_free(host: str, port: int) -> None:
    """Raise PortInUseError when ``host:port`` cannot be bound (0 means any free port)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As waitress binds: connections of a stopped server lingering in TIME_WAIT do not
        # count, a listening socket does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use: stop what listens there "
                    "or pass another server_port (--port)"
                ) from None
            raise


class _JoinableDispatcher(ThreadedTaskDispatcher):  # type: ignore[misc]  # untyped
    """waitress's task dispatcher, keeping its worker threads so that stop() can join them.

    waitress's ``create_server`` takes it through ``_dispatcher`` and then leaves starting the
    threads (``set_thread_count``) to us; waitress itself does not keep the thread objects.
    """

    def __init__(self) -> None:
        super().__init__()
        self.started: list[threading.Thread] = []

    def start_new_thread(self, target: Any, thread_no: int) -> None:
        thread = threading.Thread(
            target=target, name=f"nemo-eval-http-{thread_no}", args=(thread_no,), daemon=True
        )
        self.started.append(thread)
        thread.start()


class HttpServer:
    """A WSGI app served by waitress on a background thread."""

    def __init__(self, app: Any, *, host: str, port: int, threads: int = 16) -> None:
        from waitress.server import create_server

        check_port_free(host, port)
        try:
            self._dispatcher = _JoinableDispatcher()
            self._server = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                ident="nemo-eval",
                _dispatcher=self._dispatcher,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use: pass another server_port (--port)"
                ) from None
            raise
        # started once the sockets are bound, so a failed start leaves no idle workers behind
        self._dispatcher.set_thread_count(threads)
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._run, name="nemo-eval-http", daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # raised when stop() closes the sockets
            self._server.run()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        from waitress import wasyncore

        # Let running requests finish before the sockets and the wake-up pipe are closed.
        self._dispatcher.shutdown(timeout=10)
        # ``close()`` alone closes only the listening socket: the loop keeps running while any
        # client holds a keep-alive connection open. Close every socket in the loop's map so
        # the loop thread ends now. A thread that outlives stop() would drop the last reference
        # to the app (and the model behind it) during interpreter shutdown, which aborts the
        # process ("terminate called without an active exception").
        self._server.close()
        wasyncore.close_all(self._server._map, ignore_all=True)
        for thread in [self._thread, *self._dispatcher.started]:
            thread.join(timeout=30)
            if thread.is_alive():
                log.warning(
                    "HTTP thread %s on port %d did not stop within 30 s", thread.name, self.port
                )
