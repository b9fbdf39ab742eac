"""Start the tier-1 model server for a job through its CLI, wait for health, stop it.

The launcher talks to ``nemo-eval`` only as a subprocess::

    nemo-eval deploy --checkpoint CKPT --backend embedded|pytriton|ray --host H --port P

``NV_EVAL_DEPLOY_COMMAND`` replaces the ``nemo-eval`` executable (e.g. a path inside a
container image). The server runs in its own process group and is stopped with SIGTERM,
then SIGKILL, also when the evaluation failed.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import requests

from nvidia_eval_commons.api.launcher import DeploymentConfig
from nvidia_eval_commons.net import free_port

from .errors import DeploymentError

COMMAND_ENV = "NV_EVAL_DEPLOY_COMMAND"
_STOP_GRACE_S = 20.0


def deploy_argv(cfg: DeploymentConfig, *, port: int) -> list[str]:
    exe = shlex.split(os.environ.get(COMMAND_ENV) or "nemo-eval")
    argv = [*exe, "deploy", "--backend", cfg.backend, "--host", cfg.host, "--port", str(port)]
    if cfg.checkpoint:
        argv += ["--checkpoint", cfg.checkpoint]
    if cfg.model_name:
        argv += ["--model-name", cfg.model_name]
    if cfg.type == "nemo":
        argv += ["--num-gpus", str(cfg.num_gpus)]
        argv += ["--tensor-parallelism-size", str(cfg.tensor_parallelism_size)]
        argv += ["--pipeline-parallelism-size", str(cfg.pipeline_parallelism_size)]
    if cfg.backend == "ray":
        argv += ["--num-replicas", str(cfg.num_replicas)]
    for key, value in cfg.extra_args.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


class ModelServer:
    """A running ``nemo-eval deploy``; use as a context manager."""

    def __init__(self, cfg: DeploymentConfig, *, log_path: Path) -> None:
        self.cfg = cfg
        self.log_path = log_path
        self.port = cfg.port or free_port(cfg.host)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.cfg.host}:{self.port}"

    def start(self) -> ModelServer:
        argv = deploy_argv(self.cfg, port=self.port)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            try:
                self.proc = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            except FileNotFoundError:
                raise DeploymentError(
                    f"{argv[0]} not found: install the deploy tier (pip install 'nemo-eval[hf]') "
                    f"or set {COMMAND_ENV}"
                ) from None
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.cfg.health_timeout
        url = f"{self.base_url}/v1/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DeploymentError(
                    f"the model server exited with code {self.proc.returncode} before it was "
                    f"healthy; see {self.log_path}"
                )
            try:
                if requests.get(url, timeout=2.0).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise DeploymentError(
            f"the model server was not healthy at {url} within {self.cfg.health_timeout:.0f}s; "
            f"raise deployment.health_timeout or see {self.log_path}"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["COMMAND_ENV", "ModelServer", "deploy_argv"]
