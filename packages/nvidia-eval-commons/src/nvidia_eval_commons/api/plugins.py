"""The plugin kinds the launcher file names: engines, serving backends, executors, exporters.

The launcher schema validates ``deployment.type``, ``deployment.backend``,
``execution.executor`` and ``exporters[].type`` against these registries, and the packages that
implement them (``nemo_eval``, ``nv_eval``) look their classes up here, so each list of names
exists once. The built-ins are ``"module:attr"`` strings, imported only when used; a separately
installed distribution adds one through the entry-point group shown below.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

ENGINES: Registry[Any] = Registry(
    "engine",
    group="nemo_eval.engines",
    builtins={
        "hf": "nemo_eval.engines.hf:HfEngine",
        "nemo": "nemo_eval.engines.nemo:NemoEngine",
    },
)
"""What runs the model; each class has ``load(spec, *, model_name)``."""

SERVING_BACKENDS: Registry[Any] = Registry(
    "serving backend",
    group="nemo_eval.serving_backends",
    builtins={
        "embedded": "nemo_eval.serving.embedded:EmbeddedBackend",
        "pytriton": "nemo_eval.serving.pytriton:PyTritonBackend",
        "ray": "nemo_eval.serving.ray:RayBackend",
    },
)
"""How the model is served; each class has ``create(spec, *, options)``."""

EXECUTORS: Registry[Any] = Registry(
    "executor",
    group="nv_eval.executors",
    builtins={
        "local": "nv_eval.executors.local:LocalExecutor",
        "slurm": "nv_eval.executors.slurm:SlurmExecutor",
        "lepton": "nv_eval.executors.lepton:LeptonExecutor",
    },
    base="nv_eval.executors.base:Executor",
)
"""Where jobs run; each class has ``from_config(config, *, invocation_id)``."""

EXPORTERS: Registry[Any] = Registry(
    "exporter",
    group="nv_eval.exporters",
    builtins={
        "local": "nv_eval.exporters.local:LocalExporter",
        "mlflow": "nv_eval.exporters.mlflow:MlflowExporter",
        "wandb": "nv_eval.exporters.wandb:WandbExporter",
    },
    base="nv_eval.exporters.base:Exporter",
)
"""Where results go."""

__all__ = ["ENGINES", "EXECUTORS", "EXPORTERS", "SERVING_BACKENDS"]
