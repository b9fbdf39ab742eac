"""The ``ray`` backend: Ray Serve replicas of the engine with ``@serve.batch`` dynamic batching.

Ray starts a local node whose temp dir is ``<run_dir>/ray`` and whose node address is
127.0.0.1; Serve's HTTP proxy is disabled (the OpenAI API is our own Flask server, which calls
the deployment through a handle), and the dashboard is off. What still listens on all
interfaces: Ray's GCS server, raylet, object manager and worker ports bind 0.0.0.0 even with a
loopback node address (see docs/deploy.md); run it inside a private network namespace or
behind a firewall on shared hosts.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..engines.base import Engine, EngineSpec, GenerateRequest, GenerateResult
from ..errors import ServerStartError, missing_extra
from .base import BackendOptions

log = logging.getLogger(__name__)
APP_NAME = "nemo_eval"


def _import_ray() -> tuple[Any, Any]:
    # Under `uv run`, Ray would start its workers through `uv run` from the run directory,
    # outside this project, where ray is not installed; workers must use this interpreter.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    # A busy 2-core machine needs more than the default time to bring the raylet up.
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")
    try:
        import ray
        from ray import serve
    except ImportError:
        raise missing_extra("ray", module="ray[serve]", purpose="The ray backend") from None
    return ray, serve


def _replica_class(serve: Any, max_batch_size: int) -> Any:
    class EngineReplica:
        def __init__(self, spec: dict[str, Any], model_name: str) -> None:
            from ..engines.factory import build_engine

            self.engine = build_engine(EngineSpec(**spec), model_name=model_name)

        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=0.02)  # type: ignore[untyped-decorator]
        async def generate(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
            import asyncio

            reqs = [GenerateRequest.from_dict(r) for r in requests]
            # The forward passes block; run them off the replica's event loop.
            results = await asyncio.get_running_loop().run_in_executor(
                None, self.engine.generate, reqs
            )
            return [r.to_dict() for r in results]

    return serve.deployment(EngineReplica)


class RayBackend:
    """Engine in Ray Serve replicas; the tokenizer side stays in this process."""

    name = "ray"

    @classmethod
    def create(cls, spec: EngineSpec, *, options: BackendOptions) -> RayBackend:
        return cls(
            spec,
            model_name=options.model_name,
            max_batch_size=options.max_batch_size,
            num_replicas=options.num_replicas,
            num_cpus_per_replica=options.num_cpus_per_replica,
            run_dir=options.run_dir,
            start_timeout=options.start_timeout,
        )

    def __init__(
        self,
        spec: EngineSpec,
        *,
        model_name: str,
        max_batch_size: int,
        num_replicas: int,
        num_cpus_per_replica: float | None,
        run_dir: Path,
        start_timeout: float,
    ) -> None:
        ray, serve = _import_ray()
        self._ray, self._serve = ray, serve
        self.text: Engine = self._text_side(spec, model_name)
        temp_dir = run_dir / "ray"
        temp_dir.mkdir(parents=True, exist_ok=True)
        try:
            ray.init(
                address="local",
                _temp_dir=str(temp_dir.resolve()),
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            serve.start(proxy_location="Disabled")
            deployment = _replica_class(serve, max_batch_size).options(
                num_replicas=num_replicas,
                ray_actor_options={
                    "num_cpus": num_cpus_per_replica if num_cpus_per_replica is not None else 0
                },
                max_ongoing_requests=max(64, max_batch_size * 4),
            )
            self._handle = serve.run(
                deployment.bind(spec.to_dict(), model_name),
                name=APP_NAME,
                route_prefix=None,
                blocking=False,
            )
            self._wait_ready(start_timeout)
        except ServerStartError:
            self.stop()
            raise
        except Exception as exc:
            self.stop()
            raise ServerStartError(
                f"Ray Serve did not start: {type(exc).__name__}: {exc}".splitlines()[0]
            ) from exc

    @staticmethod
    def _text_side(spec: EngineSpec, model_name: str) -> Engine:
        from ..engines.hf import HfEngine

        if spec.engine != "hf":
            from ..engines.factory import build_engine

            return build_engine(spec, model_name=model_name)
        return HfEngine.load(spec, model_name=model_name, tokenizer_only=True)

    def _wait_ready(self, timeout: float) -> None:
        probe = GenerateRequest(prompt_ids=self.text.tokenize("Hi"), max_tokens=1, temperature=0.0)
        try:
            self._handle.generate.remote(probe.to_dict()).result(timeout_s=timeout)
        except Exception as exc:
            raise ServerStartError(
                f"Ray Serve replicas did not answer within {timeout:.0f} s ({type(exc).__name__}); "
                "raise start_timeout or free some CPU"
            ) from exc

    def submit(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        responses = [self._handle.generate.remote(r.to_dict()) for r in requests]
        return [GenerateResult.from_dict(resp.result()) for resp in responses]

    def stop(self) -> None:
        if not self._ray.is_initialized():
            return  # serve.shutdown() would start a fresh Ray node just to stop it
        try:
            self._serve.shutdown()
        except Exception:  # best effort: Ray may not have started at all
            log.debug("serve.shutdown failed", exc_info=True)
        self._ray.shutdown()
