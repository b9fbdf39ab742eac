"""The evaluate core: client layer, journal, runner and output files."""

from .evaluate import evaluate

__all__ = ["evaluate"]
