"""The ``pytriton`` backend: Triton Inference Server (NVIDIA PyTriton) with dynamic batching.

The engine runs in this process; Triton's dynamic batcher groups the requests the HTTP layer
sends it (one JSON-encoded request per Triton sample) and calls the engine with each batch.
Triton listens on loopback ports only (HTTP and gRPC; metrics off). When this interpreter's
libpython is not the system one (pyenv, uv-managed Pythons), Triton's Python backend stub
cannot find it: the interpreter's LIBDIR is put first on LD_LIBRARY_PATH before Triton starts.
"""

from __future__ import annotations

import json
import logging
import os
import sysconfig
import threading
from pathlib import Path
from typing import Any

from nvidia_eval_commons.net import free_port

from ..engines.base import Engine, EngineSpec, GenerateRequest, GenerateResult
from ..engines.factory import build_engine
from ..errors import ServerStartError, missing_extra
from .base import BackendOptions

log = logging.getLogger(__name__)
TRITON_MODEL = "nemo_eval_llm"


def _import_pytriton() -> Any:
    try:
        import pytriton.triton as triton_module
    except ImportError:
        raise missing_extra(
            "pytriton", module="nvidia-pytriton", purpose="The pytriton backend"
        ) from None
    return triton_module


def python_library_path() -> str:
    """LD_LIBRARY_PATH with this interpreter's LIBDIR first (so Triton's stub finds libpython)."""
    current = os.environ.get("LD_LIBRARY_PATH", "")
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    if not libdir or libdir in current.split(":"):
        return current
    return f"{libdir}:{current}" if current else libdir


class PyTritonBackend:
    """Engine in-process, served through a local Triton Inference Server."""

    name = "pytriton"

    @classmethod
    def create(cls, spec: EngineSpec, *, options: BackendOptions) -> PyTritonBackend:
        return cls(
            spec,
            model_name=options.model_name,
            max_batch_size=options.max_batch_size,
            run_dir=options.run_dir,
        )

    def __init__(
        self,
        spec: EngineSpec,
        *,
        model_name: str,
        max_batch_size: int,
        run_dir: Path,
    ) -> None:
        triton_module = _import_pytriton()
        import numpy as np
        from pytriton.decorators import batch
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

        self._np = np
        self.max_batch_size = max_batch_size
        self.engine: Engine = build_engine(spec, model_name=model_name)
        self.text = self.engine
        os.environ["LD_LIBRARY_PATH"] = python_library_path()
        self.http_port, self.grpc_port = free_port(), free_port()
        config = triton_module.TritonConfig(
            http_address="127.0.0.1",
            http_port=self.http_port,
            grpc_address="127.0.0.1",
            grpc_port=self.grpc_port,
            allow_metrics=False,
            exit_timeout_secs=5,
            log_file=str(run_dir / "triton.log"),
        )

        @batch  # type: ignore[untyped-decorator]
        def _infer(request: Any) -> dict[str, Any]:
            reqs = [GenerateRequest.from_dict(json.loads(bytes(row[0]))) for row in request]
            results = self.engine.generate(reqs)
            payload = [[json.dumps(r.to_dict()).encode()] for r in results]
            return {"response": np.array(payload, dtype=np.object_)}

        self._triton = triton_module.Triton(
            config=config, workspace=str(run_dir / "triton_workspace")
        )
        try:
            self._triton.bind(
                model_name=TRITON_MODEL,
                infer_func=_infer,
                inputs=[Tensor(name="request", dtype=bytes, shape=(1,))],
                outputs=[Tensor(name="response", dtype=bytes, shape=(1,))],
                config=ModelConfig(
                    max_batch_size=max_batch_size,
                    batcher=DynamicBatcher(max_queue_delay_microseconds=20000),
                ),
                strict=False,
            )
            self._triton.run()
        except Exception as exc:
            self.stop()
            raise ServerStartError(
                f"Triton did not start ({type(exc).__name__}: {exc}); see {run_dir / 'triton.log'}"
            ) from exc
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            from pytriton.client import ModelClient

            client = ModelClient(
                f"http://127.0.0.1:{self.http_port}",
                TRITON_MODEL,
                init_timeout_s=600.0,
                inference_timeout_s=600.0,
            )
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def submit(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        np = self._np
        out: list[GenerateResult] = []
        for start in range(0, len(requests), self.max_batch_size):
            chunk = requests[start : start + self.max_batch_size]
            data = np.array([[json.dumps(r.to_dict()).encode()] for r in chunk], dtype=np.object_)
            result = self._client().infer_batch(request=data)
            out.extend(
                GenerateResult.from_dict(json.loads(bytes(row[0]))) for row in result["response"]
            )
        return out

    def stop(self) -> None:
        with self._clients_lock if hasattr(self, "_clients_lock") else threading.Lock():
            for client in getattr(self, "_clients", []):
                try:
                    client.close()
                except Exception:  # best effort: the server is going away anyway
                    log.debug("closing a Triton client failed", exc_info=True)
            self._clients = []
        self._triton.stop()
