"""The ``nemo`` engine: NeMo/Megatron checkpoints, GPU only.

Two formats are recognised: a ``.nemo`` archive (a tar file with ``model_config.yaml``) and a
NeMo 2 directory (``context/`` with ``model.yaml`` or ``io.json``, plus ``weights/``). The archive
or directory is inspected on the CPU with the standard library and PyYAML, so a wrong path or
format fails at once, before any GPU or NeMo import. Serving then needs a CUDA GPU and
nemo-toolkit with its LLM collection (``pip install 'nemo-toolkit[nlp]==2.4.0'``); nemo-toolkit
is not part of the locked extras because it pulls Megatron and Lightning into every install.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, HardwareError, MissingExtraError
from .base import EngineSpec

NEMO_INSTALL = "pip install 'nemo-toolkit[nlp]==2.4.0'"


def _yaml_load(text: str | bytes, source: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CheckpointError(f"{source} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{source} does not hold a model config mapping")
    return data


def inspect_nemo_checkpoint(path: Path) -> dict[str, Any]:
    """Read the model config of a ``.nemo`` archive or NeMo 2 directory (CPU only)."""
    path = Path(path)
    if path.is_dir():
        for name in ("context/model.yaml", "context/model_config.yaml"):
            if (path / name).is_file():
                return _yaml_load((path / name).read_text(), str(path / name))
        if (path / "context" / "io.json").is_file():
            import json

            return dict(json.loads((path / "context" / "io.json").read_text()))
        raise CheckpointError(
            f"{path} has no context/model.yaml or context/io.json: not a NeMo 2 checkpoint"
        )
    try:
        with tarfile.open(path, "r:*") as tar:
            member = next(
                (
                    m
                    for m in tar.getmembers()
                    if m.isfile() and m.name.endswith("model_config.yaml")
                ),
                None,
            )
            if member is None:
                raise CheckpointError(f"{path} holds no model_config.yaml: not a .nemo checkpoint")
            handle = tar.extractfile(member)
            assert handle is not None
            return _yaml_load(handle.read(), f"{path}:{member.name}")
    except (tarfile.TarError, OSError) as exc:
        # tarfile lists every compression it tried, one per line; keep the message one line
        reason = " ".join(str(exc).split())
        raise CheckpointError(
            f"{path} is not a .nemo archive (a tar file): {reason}; pass a .nemo file, "
            "a NeMo 2 directory, a Hugging Face directory or a .gguf file"
        ) from None


class NemoEngine:
    """Loads a NeMo checkpoint for GPU inference after checking what it needs."""

    @classmethod
    def load(cls, spec: EngineSpec, *, model_name: str) -> Any:
        config = inspect_nemo_checkpoint(Path(spec.path))
        try:
            import torch
        except ImportError:
            raise MissingExtraError("hf", module="torch", purpose="The nemo engine") from None
        if not torch.cuda.is_available():
            raise HardwareError(
                f"the nemo engine needs a CUDA GPU and this machine has none; serve {spec.path} "
                "on a GPU machine, or serve a Hugging Face directory or GGUF file on the CPU"
            )
        try:
            import nemo.collections.llm  # noqa: F401
        except ImportError:
            raise MissingExtraError(
                "nemo",
                module="nemo.collections.llm",
                purpose="The nemo engine",
                install=NEMO_INSTALL,
            ) from None
        layers = config.get("num_layers", "?")
        raise HardwareError(
            f"serving NeMo checkpoints ({layers} layers) through nemo-toolkit is not wired into "
            "this release: export the checkpoint to a Hugging Face directory and use the hf engine"
        )
