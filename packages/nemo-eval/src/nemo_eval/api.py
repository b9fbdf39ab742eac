"""``deploy()``: serve a checkpoint as an OpenAI-compatible HTTP API.

Example::

    from nemo_eval.api import deploy

    with deploy(serving_backend="embedded", server_port=8080) as handle:
        print(handle.url)        # http://127.0.0.1:8080, the API under /v1

``deploy`` returns once the server answers its health check. Without ``blocking=True`` the server
runs on background threads until ``handle.stop()``, the end of the ``with`` block, or the end of
the interpreter; with ``blocking=True`` it serves until Ctrl-C or SIGTERM, then stops.
"""

from __future__ import annotations

import atexit
import logging
import signal
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import requests

from nvidia_eval_commons.api.plugins import SERVING_BACKENDS

from .checkpoints import resolve_checkpoint
from .engines.base import EngineSpec
from .errors import DeployConfigError, ServerStartError
from .openai_api import OpenAiApi
from .serving.base import BackendOptions, HttpServer, ServingBackend, ServingBackendClass

log = logging.getLogger(__name__)


class DeploymentHandle:
    """A running deployment: ``.url``, ``wait_healthy()``, ``stop()``; a context manager."""

    def __init__(
        self, *, backend: ServingBackend, server: HttpServer, model_name: str, run_dir: Path
    ) -> None:
        self.backend = backend
        self.server = server
        self.model_name = model_name
        self.run_dir = run_dir
        connect_host = "127.0.0.1" if server.host in ("0.0.0.0", "") else server.host
        self.url = f"http://{connect_host}:{server.port}"
        self.port = server.port
        self._stopped = False
        self._lock = threading.Lock()
        atexit.register(self.stop)

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stopped

    @property
    def completions_url(self) -> str:
        return f"{self.url}/v1/completions"

    @property
    def chat_url(self) -> str:
        return f"{self.url}/v1/chat/completions"

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Block until ``/v1/health`` answers 200; ServerStartError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last: str = "no answer"
        while time.monotonic() < deadline:
            try:
                resp = requests.get(f"{self.url}/v1/health", timeout=5)
                if resp.status_code == 200:
                    return
                last = f"status {resp.status_code}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.1)
        raise ServerStartError(
            f"{self.url}/v1/health did not answer 200 within {timeout:.0f} s ({last})"
        )

    def stop(self) -> None:
        """Stop the HTTP server and the backend; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self.stop)
        self.server.stop()
        self.backend.stop()
        log.info("stopped %s", self.url)

    def serve_forever(self) -> None:
        """Serve until Ctrl-C or SIGTERM, then stop cleanly."""
        stop_event = threading.Event()
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
        try:
            while not stop_event.wait(0.1):  # looks 10 times a second: SIGTERM stops at once
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.stop()

    def __enter__(self) -> DeploymentHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DeploymentHandle(url={self.url!r}, model={self.model_name!r}, backend={self.backend.name!r})"


def _make_backend(name: str, spec: EngineSpec, *, options: BackendOptions) -> ServingBackend:
    cls: ServingBackendClass = SERVING_BACKENDS.get(name)
    return cls.create(spec, options=options)


def deploy(
    nemo_checkpoint: str | Path | None = None,
    serving_backend: str = "embedded",
    server_port: int | None = 8080,
    server_address: str = "127.0.0.1",
    *,
    checkpoint: str | Path | None = None,
    model_name: str | None = None,
    engine: str | None = None,
    num_gpus: int = 0,
    num_nodes: int = 1,
    tensor_parallelism_size: int = 1,
    pipeline_parallelism_size: int = 1,
    max_input_len: int = 4096,
    max_batch_size: int = 8,
    num_replicas: int = 1,
    num_cpus_per_replica: float | None = None,
    device: str = "auto",
    cpu_threads: int | None = None,
    run_dir: str | Path | None = None,
    start_timeout: float = 300.0,
    blocking: bool = False,
) -> DeploymentHandle:
    """Serve a checkpoint (``.nemo``, NeMo 2 dir, HF dir, ``.gguf``; default SmolLM2) over HTTP.

    ``nemo_checkpoint`` and ``checkpoint`` are the same argument (the seeds use the first).
    ``server_port=None`` or ``0`` picks a free port. GPU-related arguments are accepted on a
    CPU machine and ignored with a warning by the ``hf`` engine. ``cpu_threads`` sets torch's
    threads on CPU (default ``$NEMO_EVAL_CPU_THREADS`` or half the cores).
    """
    if (
        nemo_checkpoint is not None
        and checkpoint is not None
        and str(nemo_checkpoint) != str(checkpoint)
    ):
        raise DeployConfigError("pass the checkpoint once: nemo_checkpoint and checkpoint differ")
    if serving_backend not in SERVING_BACKENDS:
        raise DeployConfigError(f"serving_backend: {SERVING_BACKENDS.unknown(serving_backend)}")
    for name, value in (
        ("max_input_len", max_input_len),
        ("max_batch_size", max_batch_size),
        ("num_replicas", num_replicas),
        ("num_nodes", num_nodes),
        ("tensor_parallelism_size", tensor_parallelism_size),
        ("pipeline_parallelism_size", pipeline_parallelism_size),
        ("cpu_threads", 1 if cpu_threads is None else cpu_threads),
    ):
        if not isinstance(value, int) or value < 1:
            raise DeployConfigError(f"{name} must be a positive integer, got {value!r}")
    port = int(server_port or 0)
    if not 0 <= port <= 65535:
        raise DeployConfigError(f"server_port must be between 0 and 65535, got {server_port}")
    from .serving.base import check_port_free

    check_port_free(server_address, port)  # fail before loading a model
    resolved = resolve_checkpoint(checkpoint if checkpoint is not None else nemo_checkpoint)
    engine_name = engine or resolved.engine
    if engine_name == "hf" and (
        num_gpus > 1
        or tensor_parallelism_size > 1
        or pipeline_parallelism_size > 1
        or num_nodes > 1
    ):
        log.warning(
            "the hf engine runs on one device: num_gpus, parallelism and num_nodes are ignored"
        )
    spec = EngineSpec(
        engine=engine_name,
        path=str(resolved.path),
        device=device,
        num_gpus=num_gpus,
        tensor_parallelism_size=tensor_parallelism_size,
        pipeline_parallelism_size=pipeline_parallelism_size,
        cpu_threads=cpu_threads,
    )
    name = model_name or resolved.model_name
    rundir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="nemo_eval_"))
    rundir.mkdir(parents=True, exist_ok=True)
    options = BackendOptions(
        model_name=name,
        max_batch_size=max_batch_size,
        num_replicas=num_replicas,
        num_cpus_per_replica=num_cpus_per_replica,
        run_dir=rundir,
        start_timeout=start_timeout,
    )
    backend = _make_backend(serving_backend, spec, options=options)
    try:
        api = OpenAiApi(
            text=backend.text, submit=backend.submit, model_name=name, max_input_len=max_input_len
        )
        server = HttpServer(api.create_app(), host=server_address, port=port)
    except BaseException:
        backend.stop()
        raise
    server.start()
    handle = DeploymentHandle(backend=backend, server=server, model_name=name, run_dir=rundir)
    try:
        handle.wait_healthy(timeout=min(start_timeout, 60.0))
    except BaseException:
        handle.stop()
        raise
    log.info("serving %s with the %s backend at %s", name, serving_backend, handle.url)
    if blocking:
        handle.serve_forever()
    return handle
