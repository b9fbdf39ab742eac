"""Benchmarks by name."""

from __future__ import annotations

import importlib
from typing import TypeVar

from .base import Benchmark

_REGISTRY: dict[str, type[Benchmark]] = {}
# Modules that define the built-in benchmarks; imported on first lookup.
_BUILTIN_MODULES: tuple[str, ...] = (
    "nemo_evaluator.benchmarks.gsm8k",
    "nemo_evaluator.benchmarks.arc",
    "nemo_evaluator.benchmarks.hellaswag",
    "nemo_evaluator.benchmarks.mmlu",
    "nemo_evaluator.benchmarks.humaneval",
)
_loaded = False

B = TypeVar("B", bound=type[Benchmark])


def register(cls: B) -> B:
    """Class decorator: make a benchmark available by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"benchmark name '{cls.name}' is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    _loaded = True


def get_benchmark(name: str) -> type[Benchmark]:
    """The benchmark class registered as ``name``; an unknown name lists the valid ones."""
    if name.startswith("lm-eval."):  # every lm-evaluation-harness task, built on demand
        from ..lm_eval.benchmark import benchmark_class

        return benchmark_class(name.removeprefix("lm-eval."))
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise KeyError(
            f"unknown benchmark '{name}'.{hint} Valid: {', '.join(sorted(_REGISTRY))}"
        ) from None


def list_benchmarks() -> dict[str, type[Benchmark]]:
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))
