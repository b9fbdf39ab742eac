"""nemo_evaluator: evaluate OpenAI-compatible endpoints through an interceptor chain.

``from nemo_evaluator.core.evaluate import evaluate`` is the public entry point; it is also
available here as ``nemo_evaluator.evaluate`` (imported on first use).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate"]


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from .core.evaluate import evaluate

        return evaluate
    raise AttributeError(f"module 'nemo_evaluator' has no attribute {name!r}")
