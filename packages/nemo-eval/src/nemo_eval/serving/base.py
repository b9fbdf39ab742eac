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
from typing import Any, Protocol

from ..engines.base import Engine, GenerateRequest, GenerateResult
from ..errors import PortInUseError

log = logging.getLogger(__name__)


class ServingBackend(Protocol):
    """Runs the engine somewhere and answers batches of requests."""

    name: str
    text: Engine
    """Tokenizer side of the model, used by the HTTP layer."""

    def submit(self, requests: list[GenerateRequest]) -> list[GenerateResult]: ...

    def stop(self) -> None: ...


def check_port_free(host: str, port: int) -> None:
    """Raise PortInUseError when ``host:port`` cannot be bound (0 means any free port)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use: stop what listens there "
                    "or pass another server_port (--port)"
                ) from None
            raise


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class HttpServer:
    """A WSGI app served by waitress on a background thread."""

    def __init__(self, app: Any, *, host: str, port: int, threads: int = 16) -> None:
        from waitress.server import create_server

        check_port_free(host, port)
        try:
            self._server = create_server(
                app, host=host, port=port, threads=threads, ident="nemo-eval"
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use: pass another server_port (--port)"
                ) from None
            raise
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._run, name="nemo-eval-http", daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # raised when stop() closes the sockets
            self._server.run()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # Let running requests finish before the sockets and the wake-up pipe are closed.
        self._server.task_dispatcher.shutdown(timeout=10)
        self._server.close()
        self._thread.join(timeout=10)
