"""The launcher's YAML file: ``target``, ``config``, ``execution``, ``deployment``, ``exporters``.

``nv-eval`` composes the file with Hydra and validates the result once into ``LauncherConfig``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from ..registry import RegisteredName
from ._strict import StrictModel
from .api_dataclasses import EvaluationConfig, EvaluationTarget
from .plugins import ENGINES, EXECUTORS, EXPORTERS, SERVING_BACKENDS

ExecutorName = Annotated[str, RegisteredName(EXECUTORS)]


class SshConfig(StrictModel):
    """Submit through ssh to a login node instead of the local machine."""

    host: str = Field(min_length=1)
    user: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    identity_file: str | None = None
    remote_dir: str | None = None
    """Directory on the login node for scripts and outputs; ``execution.output_dir`` if empty."""


class LocalConfig(StrictModel):
    """Options of the local executor."""

    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for each job."""


class SlurmConfig(StrictModel):
    """One sbatch script per job is built from these."""

    nodes: int = Field(default=1, ge=1)
    gpus_per_node: int = Field(default=0, ge=0)
    ntasks_per_node: int = Field(default=1, ge=1)
    cpus_per_task: int | None = Field(default=None, ge=1)
    mem: str | None = None
    """Memory per node as sbatch takes it, e.g. ``16G``."""
    time_limit: str = "01:00:00"
    partition: str | None = None
    job_name: str = "nemo_eval"
    account: str | None = None
    qos: str | None = None
    sbatch_flags: list[str] = Field(default_factory=list)
    """Extra ``#SBATCH`` flags, e.g. ``["--exclusive", "--constraint=a100"]``."""
    setup_commands: list[str] = Field(default_factory=list)
    """Shell lines run before the job, e.g. ``module load cuda`` or activating an environment."""
    env: dict[str, str] = Field(default_factory=dict)
    ssh: SshConfig | None = None


class LeptonConfig(StrictModel):
    """A Lepton job per task is built from these."""

    resource_shape: str = "cpu.small"
    replicas: int = Field(default=1, ge=1)
    auto_scale: bool = False
    min_replicas: int | None = Field(default=None, ge=0)
    max_replicas: int | None = Field(default=None, ge=1)
    image: str | None = None
    """Container image of the job; the launcher's default image when empty."""
    node_group: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    workspace: str | None = None


class ExecutionConfig(StrictModel):
    """Where and how the jobs run."""

    executor: ExecutorName = "local"
    output_dir: str = Field(default="./evaluation_results", min_length=1)
    """Root of the invocation's outputs: one directory per job below it."""
    parallel_jobs: int = Field(default=1, ge=1)
    """Jobs running at once."""
    local: LocalConfig = Field(default_factory=LocalConfig)
    slurm: SlurmConfig | None = None
    lepton: LeptonConfig | None = None


DeploymentType = Annotated[str, RegisteredName(ENGINES, also=("none",))]
ServingBackend = Annotated[str, RegisteredName(SERVING_BACKENDS)]


class DeploymentConfig(StrictModel):
    """Serve a checkpoint with tier 1 before the evaluation, and stop it after."""

    type: DeploymentType = "none"
    """The engine: ``hf`` (transformers), ``nemo`` (NeMo/Megatron, GPU), ``none`` to skip."""
    checkpoint: str | None = None
    """A ``.nemo`` file, a Hugging Face directory or a GGUF file; the default model if empty."""
    backend: ServingBackend = "embedded"
    model_name: str | None = None
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)
    """Port of the server; a free one when empty."""
    num_gpus: int = Field(default=0, ge=0)
    num_nodes: int = Field(default=1, ge=1)
    tensor_parallelism_size: int = Field(default=1, ge=1)
    pipeline_parallelism_size: int = Field(default=1, ge=1)
    max_input_len: int = Field(default=4096, ge=1)
    max_batch_size: int = Field(default=8, ge=1)
    num_replicas: int = Field(default=1, ge=1)
    num_cpus_per_replica: float | None = Field(default=None, gt=0)
    health_timeout: float = Field(default=900.0, gt=0)
    """Seconds to wait for the server to answer its health check."""
    extra_args: dict[str, Any] = Field(default_factory=dict)


ExporterName = Annotated[str, RegisteredName(EXPORTERS)]


class ExporterSpec(StrictModel):
    """One destination of results, run after a successful job."""

    type: ExporterName
    config: dict[str, Any] = Field(default_factory=dict)


class LauncherConfig(StrictModel):
    """The whole launcher file after composition."""

    defaults: list[Any] | None = Field(default=None, exclude=True)
    """Hydra's defaults list (consumed by composition)."""
    target: EvaluationTarget
    """The endpoint to evaluate (``target.api_endpoint``)."""
    config: EvaluationConfig
    """The benchmark(s), output directory and run parameters."""
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    """Where and how the jobs run."""
    deployment: DeploymentConfig | None = None
    """Serve a checkpoint before evaluating it; leave out to evaluate an existing endpoint."""
    exporters: list[ExporterSpec] = Field(default_factory=list)
    """Destinations of the results, run after each successful job."""

    @field_validator("exporters", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


__all__ = [
    "DeploymentConfig",
    "ExecutionConfig",
    "ExporterSpec",
    "LauncherConfig",
    "LeptonConfig",
    "LocalConfig",
    "SlurmConfig",
    "SshConfig",
]
