"""Errors of dataset loading.

``DatasetError`` (an ``EvaluatorRuntimeError``, so also a ``RuntimeError``) is raised with a one-line message that names the file or
URL, the cause and what to set instead (``NEMO_EVALUATOR_DATA_DIR``, ``params.extra.dataset_path``
or ``params.extra.dataset=sample``).
"""

from __future__ import annotations

from ..errors import EvaluatorRuntimeError


class DatasetError(EvaluatorRuntimeError):
    """A benchmark's data could not be found, downloaded, verified or parsed."""


class DatasetMismatchError(DatasetError):
    """A dataset file's sha256 differs from the canonical one and was not accepted."""
