"""Build the engine a spec names, through the engine registry.

Kept apart from ``base.py`` so that the engines (which import ``base``) and the code that picks
one do not import each other.
"""

from __future__ import annotations

from nvidia_eval_commons.api.plugins import ENGINES

from ..errors import DeployConfigError
from .base import Engine, EngineSpec


def build_engine(spec: EngineSpec, *, model_name: str) -> Engine:
    """Load the engine a spec names (imports the heavy libraries lazily)."""
    if spec.engine not in ENGINES:
        raise DeployConfigError(f"engine: {ENGINES.unknown(spec.engine)}")
    engine: Engine = ENGINES.get(spec.engine).load(spec, model_name=model_name)
    return engine


__all__ = ["build_engine"]
