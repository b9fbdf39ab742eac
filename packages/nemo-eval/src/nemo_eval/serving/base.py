"""Pieces every serving backend shares: the backend interface and the HTTP front server.

Every backend serves the same OpenAI API through an in-process Flask app behind waitress; the
backends differ in where the engine runs and who batches requests (our queue, Triton's
dynamic batcher, Ray Serve's ``@serve.batch``).
"""

from __future__ import annotations

import errno
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nvidia_eval_commons.wsgi_server import WsgiServer

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


# A request thread mostly waits for its batch: 64 let an evaluator at parallelism 64 have every
# request in the batcher's queue (with 16, the rest waited in waitress's own queue, out of the
# batches' reach, and waitress logged "Task queue depth" for each of them).
HTTP_THREADS = 64


class HttpServer(WsgiServer):
    """The OpenAI app served by the shared waitress lifecycle; a busy port is PortInUseError."""

    def __init__(self, app: Any, *, host: str, port: int, threads: int = HTTP_THREADS) -> None:
        check_port_free(host, port)
        try:
            super().__init__(app, host=host, port=port, threads=threads, name="nemo-eval-http")
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use: pass another server_port (--port)"
                ) from None
            raise
