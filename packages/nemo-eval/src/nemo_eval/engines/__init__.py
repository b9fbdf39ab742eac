"""Engines: what runs the model (``hf``: transformers + torch; ``nemo``: NeMo on GPU)."""

from __future__ import annotations

from .base import Engine, EngineSpec, GenerateRequest, GenerateResult
from .factory import build_engine

__all__ = ["Engine", "EngineSpec", "GenerateRequest", "GenerateResult", "build_engine"]
