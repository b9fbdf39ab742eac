"""Statistics that decide between models: pass@k / maj@k over repeats, confidence intervals
(analytic, bootstrap, clustered), paired tests between two runs, and a sequential test.

Every function takes plain sequences or numpy arrays; the evaluate core, ``compare`` and the
launcher's ``nv-eval compare`` / ``report`` / ``--gate`` call them. See docs/statistics.md.
"""

from .compare import Comparison, ComparisonError, MetricComparison, compare
from .estimators import maj_at_k, majority, pass_at_k, pass_at_k_array
from .gate import Gate, GateVerdict, check_gate, check_gates
from .intervals import (
    Interval,
    analytic_interval,
    bootstrap_interval,
    bootstrap_intervals,
    clustered_interval,
    clustered_stderr,
    score_intervals,
)
from .paired import (
    mcnemar_exact,
    mcnemar_p,
    minimum_detectable_effect,
    paired_bootstrap,
    permutation_test,
)
from .runs import RunItems, RunReadError, read_run
from .sequential import SequentialTest

__all__ = [
    "Comparison",
    "ComparisonError",
    "Gate",
    "GateVerdict",
    "Interval",
    "MetricComparison",
    "RunItems",
    "RunReadError",
    "SequentialTest",
    "analytic_interval",
    "bootstrap_interval",
    "bootstrap_intervals",
    "check_gate",
    "check_gates",
    "clustered_interval",
    "clustered_stderr",
    "compare",
    "maj_at_k",
    "majority",
    "mcnemar_exact",
    "mcnemar_p",
    "minimum_detectable_effect",
    "paired_bootstrap",
    "pass_at_k",
    "pass_at_k_array",
    "permutation_test",
    "read_run",
    "score_intervals",
]
