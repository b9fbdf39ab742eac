"""Benchmarks by name: the built-in ones, providers' names and third-party entry points.

A separately installed distribution makes a benchmark available as ``my_bench`` with, in its
``pyproject.toml``::

    [project.entry-points."nemo_evaluator.benchmarks"]
    my_bench = "my_package.module:MyBenchmark"

where ``MyBenchmark`` subclasses :class:`nemo_evaluator.benchmarks.base.Benchmark`. It then
shows in ``nemo-evaluator ls`` and runs from the CLI, ``evaluate()`` and the launcher's YAML.
A provider of many names (every ``lm-eval.<task>``) is added below with
``BENCHMARKS.add_resolver("lm-eval.", "package.module:resolve", usage="lm-eval.<task>")``: the
module is imported only when such a name is looked up.
"""

from __future__ import annotations

from typing import TypeVar

from nvidia_eval_commons.registry import Registry

from ..errors import UnknownBenchmarkError
from .base import Benchmark

ENTRY_POINT_GROUP = "nemo_evaluator.benchmarks"

BENCHMARKS: Registry[type[Benchmark]] = Registry(
    "benchmark",
    group=ENTRY_POINT_GROUP,
    builtins={
        "gsm8k": "nemo_evaluator.benchmarks.gsm8k:Gsm8k",
        "gsm8k_chat": "nemo_evaluator.benchmarks.gsm8k:Gsm8kChat",
        "arc_easy": "nemo_evaluator.benchmarks.arc:ArcEasy",
        "arc_challenge": "nemo_evaluator.benchmarks.arc:ArcChallenge",
        "arc_easy_chat": "nemo_evaluator.benchmarks.arc:ArcEasyChat",
        "arc_challenge_chat": "nemo_evaluator.benchmarks.arc:ArcChallengeChat",
        "hellaswag": "nemo_evaluator.benchmarks.hellaswag:Hellaswag",
        "mmlu": "nemo_evaluator.benchmarks.mmlu:Mmlu",
        "mmlu_chat": "nemo_evaluator.benchmarks.mmlu:MmluChat",
        "humaneval": "nemo_evaluator.benchmarks.humaneval:HumanEval",
    },
    base=Benchmark,
    error=UnknownBenchmarkError,
)

# every lm-evaluation-harness task (the lm-eval extra), imported when such a name is used
BENCHMARKS.add_resolver(
    "lm-eval.", "nemo_evaluator.lm_eval.benchmark:resolve_benchmark", usage="lm-eval.<task>"
)

B = TypeVar("B", bound=type[Benchmark])


def register(cls: B) -> B:
    """Class decorator: make a benchmark available by its ``name`` in this process."""
    return BENCHMARKS.register(cls)


def get_benchmark(name: str) -> type[Benchmark]:
    """The benchmark class registered as ``name``; an unknown name lists the valid ones."""
    return BENCHMARKS.get(name)


def list_benchmarks() -> dict[str, type[Benchmark]]:
    """Every listed benchmark by name, sorted, classes imported."""
    return BENCHMARKS.load_all()


__all__ = ["BENCHMARKS", "ENTRY_POINT_GROUP", "get_benchmark", "list_benchmarks", "register"]
