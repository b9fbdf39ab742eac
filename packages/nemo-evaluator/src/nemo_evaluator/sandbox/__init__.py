"""Run untrusted, model-written Python in a sandbox (one fresh interpreter per check).

    from nemo_evaluator.sandbox import run_program, SandboxLimits
    result = run_program(program_text, limits=SandboxLimits(timeout_s=3.0, memory_mb=1024))
    result.passed, result.status, result.stdout, result.stderr, result.duration_s
    ensure_available(limits)   # SandboxError now, naming the cause, where no sandbox can run

What is contained and how is described in docs/sandbox.md.
"""

from __future__ import annotations

from nemo_evaluator.errors import SandboxError
from nemo_evaluator.sandbox.runner import check_many, ensure_available, run_program
from nemo_evaluator.sandbox.types import CandidateCheck, SandboxLimits, SandboxResult

__all__ = [
    "CandidateCheck",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "check_many",
    "ensure_available",
    "run_program",
]
