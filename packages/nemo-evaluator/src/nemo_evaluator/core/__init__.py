"""The evaluate core: client layer, journal, runner and output files.

``evaluate`` is imported on first use, so reading a journal (``nv-eval status``) does not load
the benchmarks and the client layer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate"]


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from .evaluate import evaluate

        # importing the submodule bound its name here to the module: bind the function
        globals()["evaluate"] = evaluate
        return evaluate
    raise AttributeError(f"module 'nemo_evaluator.core' has no attribute {name!r}")
