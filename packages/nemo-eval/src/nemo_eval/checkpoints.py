"""Which engine reads a checkpoint, decided from the path before anything heavy is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .default_model import DEFAULT_MODEL_NAME, default_model_dir, is_default_model_name
from .errors import CheckpointError

FORMATS_HINT = "a .nemo file, a NeMo 2 directory, a Hugging Face directory or a .gguf file"


@dataclass(frozen=True)
class ResolvedCheckpoint:
    engine: str
    path: Path
    model_name: str


def resolve_checkpoint(checkpoint: str | Path | None) -> ResolvedCheckpoint:
    """Map a user's checkpoint argument to an engine and a local path.

    ``None`` or the default model's name serve SmolLM2-135M-Instruct (fetched once).
    """
    if checkpoint is None or (isinstance(checkpoint, str) and is_default_model_name(checkpoint)):
        return ResolvedCheckpoint("hf", default_model_dir(), DEFAULT_MODEL_NAME)
    path = Path(checkpoint).expanduser()
    if not path.exists():
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} does not exist: pass {FORMATS_HINT}, "
            f"or no checkpoint to serve {DEFAULT_MODEL_NAME}"
        )
    name = path.stem if path.is_file() else path.name
    if path.is_file():
        if path.suffix == ".gguf":
            return ResolvedCheckpoint("hf", path, name)
        if path.suffix == ".nemo":
            from .engines.nemo import inspect_nemo_checkpoint

            inspect_nemo_checkpoint(path)
            return ResolvedCheckpoint("nemo", path, name)
        raise CheckpointError(f"{path} is not a checkpoint this package reads: pass {FORMATS_HINT}")
    if (path / "config.json").is_file():
        return ResolvedCheckpoint("hf", path, name)
    if (path / "context").is_dir() and (path / "weights").is_dir():
        from .engines.nemo import inspect_nemo_checkpoint

        inspect_nemo_checkpoint(path)
        return ResolvedCheckpoint("nemo", path, name)
    raise CheckpointError(
        f"directory {path} has neither config.json (Hugging Face) nor context/ and weights/ "
        f"(NeMo 2): pass {FORMATS_HINT}"
    )
