"""LeptonExecutor: one Lepton job per task, built with the leptonai SDK's own types.

``execution.lepton`` gives the resource shape, image, node group and env. With a
``deployment:`` section, the model server becomes a Lepton deployment whose replicas follow
``replicas``, ``auto_scale`` and ``max_replicas`` (the jobs then evaluate that deployment);
without one, the jobs evaluate the given endpoint and those three fields do not apply.
The job file travels inside the job's command (base64), and an API key named by
``${oc.env:VAR}`` comes from the workspace secret ``VAR``. Submitting needs Lepton
credentials (``lep login`` or ``LEPTON_WORKSPACE_ID`` + ``LEPTON_WORKSPACE_TOKEN``);
``--dry-run`` prints the specs without them. The SDK is the ``lepton`` extra.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import time
from pathlib import Path
from typing import Any

from nvidia_eval_commons.api.launcher import DeploymentConfig, LauncherConfig, LeptonConfig

from ..errors import LauncherConfigError, SchedulerError, require_extra
from .base import JOB_DIR_TOKEN, Executor, JobSpec, JobStatus, tail

DEFAULT_IMAGE = "nvcr.io/nvidia/nemo:latest"
CONTAINER_JOB_DIR = "/workspace/nv-eval-job"
_STATES = {
    "Starting": "pending",
    "Queueing": "pending",
    "Awaiting": "pending",
    "PendingRetry": "pending",
    "Restarting": "pending",
    "Running": "running",
    "Completed": "success",
    "Failed": "failed",
    "Stopped": "killed",
    "Stopping": "killed",
    "Deleting": "killed",
    "Deleted": "killed",
    "Terminating": "killed",
}


def _types() -> Any:
    require_extra("leptonai", "lepton")
    from leptonai.api.v2.types import common, deployment, job

    return common, deployment, job


def lepton_name(*parts: str) -> str:
    """A Lepton resource name: lowercase letters, digits and dashes, at most 36 characters."""
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return name[:36].rstrip("-") or "nv-eval"


class LeptonExecutor(Executor):
    """Lepton jobs through ``leptonai.api.v2.client.APIClient``."""

    name = "lepton"

    def __init__(
        self,
        config: LeptonConfig | None = None,
        *,
        invocation_id: str = "",
        secret_envs: tuple[str, ...] = (),
        deployment: DeploymentConfig | None = None,
    ) -> None:
        self.config = config or LeptonConfig()
        self.invocation_id = invocation_id
        self.secret_envs = secret_envs
        self.deployment = deployment

    @classmethod
    def from_config(
        cls, config: LauncherConfig, *, invocation_id: str, secret_envs: tuple[str, ...] = ()
    ) -> LeptonExecutor:
        return cls(
            config.execution.lepton,
            invocation_id=invocation_id,
            secret_envs=secret_envs,
            deployment=config.deployment,
        )

    # -- specs ---------------------------------------------------------------------------
    def job_spec(self, spec: JobSpec) -> Any:
        """The ``LeptonJob`` for one job (validated by the SDK's pydantic models)."""
        common, dep, job = _types()
        cfg = self.config
        if spec.secret_env:
            raise LauncherConfigError(
                "a literal API key cannot be put in a Lepton job spec; store it as a "
                "workspace secret NAME and write api_key: ${oc.env:NAME}"
            )
        payload = base64.b64encode(spec.job_file.encode()).decode()
        command = shlex.join(spec.command).replace(JOB_DIR_TOKEN, CONTAINER_JOB_DIR)
        script = (
            f"mkdir -p {CONTAINER_JOB_DIR} && cd {CONTAINER_JOB_DIR} && "
            f"echo {payload} | base64 -d > job.json && {command}"
        )
        envs = [dep.EnvVar(name=k, value=v) for k, v in {**cfg.env, **spec.env}.items()]
        envs += [
            dep.EnvVar(name=name, value_from=dep.EnvValue(secret_name_ref=name))
            for name in self.secret_envs
        ]
        affinity = None
        if cfg.node_group:
            from leptonai.api.v2.types.affinity import LeptonResourceAffinity

            affinity = LeptonResourceAffinity(allowed_dedicated_node_groups=[cfg.node_group])
        return job.LeptonJob(
            metadata=common.Metadata(
                name=lepton_name("nv-eval", spec.job_id.replace(".", "-"), spec.name),
                labels={"nv-eval-invocation": spec.job_id.split(".")[0], "nv-eval-job": spec.name},
            ),
            spec=job.LeptonJobUserSpec(
                resource_shape=cfg.resource_shape,
                affinity=affinity,
                container=dep.LeptonContainer(
                    image=cfg.image or DEFAULT_IMAGE, command=["bash", "-c", script]
                ),
                completions=1,
                parallelism=1,
                envs=envs,
            ),
        )

    def deployment_spec(self) -> Any | None:
        """The ``LeptonDeployment`` of the model server, when the config deploys one."""
        if self.deployment is None or self.deployment.type == "none":
            return None
        common, dep, _ = _types()
        cfg, d = self.config, self.deployment
        argv = ["nemo-eval", "deploy", "--backend", d.backend, "--host", "0.0.0.0"]
        argv += ["--port", str(d.port or 8080)]
        if d.checkpoint:
            argv += ["--checkpoint", d.checkpoint]
        top = (
            max(cfg.max_replicas or cfg.replicas, cfg.replicas) if cfg.auto_scale else cfg.replicas
        )
        return dep.LeptonDeployment(
            metadata=common.Metadata(name=lepton_name("nv-eval", self.invocation_id, "model")),
            spec=dep.LeptonDeploymentUserSpec(
                container=dep.LeptonContainer(
                    image=cfg.image or DEFAULT_IMAGE,
                    command=argv,
                    ports=[dep.ContainerPort(container_port=d.port or 8080)],
                ),
                resource_requirement=dep.ResourceRequirement(
                    resource_shape=cfg.resource_shape,
                    min_replicas=cfg.min_replicas if cfg.min_replicas is not None else cfg.replicas,
                    max_replicas=top,
                ),
                auto_scaler=dep.AutoScaler(target_gpu_utilization_percentage=80)
                if cfg.auto_scale
                else None,
            ),
        )

    def describe(self, spec: JobSpec) -> str:
        body = self.job_spec(spec).model_dump(mode="json", exclude_none=True, by_alias=True)
        return "Lepton job:\n" + json.dumps(body, indent=2)

    # -- the interface -------------------------------------------------------------------
    def _client(self) -> Any:
        require_extra("leptonai", "lepton")
        from leptonai.api.v2.client import APIClient

        try:
            return APIClient(workspace_id=self.config.workspace)
        except Exception as err:
            raise SchedulerError(
                f"no Lepton credentials: {str(err).splitlines()[0]} "
                "(run `lep login` or set LEPTON_WORKSPACE_ID and LEPTON_WORKSPACE_TOKEN)",
                scheduler_message=str(err),
            ) from None

    def submit(self, spec: JobSpec) -> dict[str, Any]:
        body = self.job_spec(spec)
        client = self._client()
        try:
            created = client.job.create(body)
        except Exception as err:
            raise SchedulerError(
                f"Lepton refused job {spec.job_id}: {err}", scheduler_message=str(err)
            ) from None
        name = created.metadata.id_ or body.metadata.name
        return {"lepton_job": name}

    def status(self, job_dir: Path, handle: dict[str, Any]) -> JobStatus:
        name = handle.get("lepton_job", "")
        try:
            job = self._client().job.get(name)
        except SchedulerError:
            raise
        except Exception as err:
            return JobStatus("failed", message=f"Lepton job {name}: {err}")
        st = job.status
        word = st.state.value if st is not None and st.state is not None else "UNK"
        state = _STATES.get(word, "pending")
        started = st.creation_time if st is not None else None
        finished = st.completion_time if st is not None else None
        return JobStatus(
            state,
            None,
            started,
            finished or (time.time() if state in ("success", "failed", "killed") else None),
            f"lepton {name}: {word}",
        )

    def kill(self, job_dir: Path, handle: dict[str, Any]) -> None:
        name = handle.get("lepton_job", "")
        try:
            self._client().job.delete(name)
        except SchedulerError:
            raise
        except Exception as err:
            raise SchedulerError(
                f"Lepton could not delete {name}: {err}", scheduler_message=str(err)
            ) from None

    def logs(self, job_dir: Path, handle: dict[str, Any]) -> str:
        name = handle.get("lepton_job", "")
        client = self._client()
        chunks: list[str] = []
        try:
            for replica in client.job.get_replicas(name):
                chunks.extend(client.job.get_log(name, replica, timeout=10))
        except Exception as err:
            chunks.append(f"[cannot read Lepton logs of {name}: {err}]\n")
        return "".join(chunks) or tail(Path(job_dir) / "job.log")


__all__ = ["DEFAULT_IMAGE", "LeptonExecutor", "lepton_name"]
