"""Benchmarks: dataset + requests + extraction + scoring, registered by name."""

from .base import Benchmark
from .registry import get_benchmark, list_benchmarks, register

__all__ = ["Benchmark", "get_benchmark", "list_benchmarks", "register"]
