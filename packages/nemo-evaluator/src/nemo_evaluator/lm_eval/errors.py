"""Errors of the lm-eval bridge; both are config errors, raised at start-up.

EvaluationConfigError (nemo_evaluator.core.errors)
+-- LmEvalTaskError      unknown task, bad task YAML, a dataset that cannot be loaded
+-- LmEvalMissingError   the ``lm-eval`` extra is not installed
"""

from __future__ import annotations

import importlib.util

from ..core.errors import EvaluationConfigError

INSTALL = "pip install 'nemo-evaluator[lm-eval]'"


class LmEvalTaskError(EvaluationConfigError):
    """An lm-eval task cannot be set up as asked."""


class LmEvalMissingError(EvaluationConfigError, ImportError):
    """lm-evaluation-harness is not installed."""


def lm_eval_installed() -> bool:
    return importlib.util.find_spec("lm_eval") is not None


def require_lm_eval() -> None:
    if not lm_eval_installed():
        raise LmEvalMissingError(
            f"lm-eval.* benchmarks need lm-evaluation-harness; install it with: {INSTALL}"
        )
