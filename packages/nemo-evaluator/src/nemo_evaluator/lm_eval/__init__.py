"""Every lm-evaluation-harness task as a benchmark named ``lm-eval.<task>`` (the optional
``lm-eval`` extra: ``pip install 'nemo-evaluator[lm-eval]'``); see docs/lm-eval.md."""

from .catalog import PREFIX, list_tasks
from .errors import LmEvalMissingError, LmEvalTaskError, lm_eval_installed

__all__ = ["PREFIX", "LmEvalMissingError", "LmEvalTaskError", "list_tasks", "lm_eval_installed"]
