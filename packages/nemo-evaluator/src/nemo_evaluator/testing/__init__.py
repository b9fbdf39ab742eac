"""Test helpers other test suites and benchmarks reuse: an OpenAI-compatible stub upstream
and a reply of known accuracy.

The names are imported on first use, so that ``python -m nemo_evaluator.testing.openai_stub``
(how benchmarks start the stub in its own process) does not find its module already imported.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .graded import GradedReply
    from .openai_stub import Fault, OpenAIStubServer, RecordedRequest
    from .responses import token_logprob, tokenize

_HOME = {
    "Fault": ".openai_stub",
    "GradedReply": ".graded",
    "OpenAIStubServer": ".openai_stub",
    "RecordedRequest": ".openai_stub",
    "token_logprob": ".responses",
    "tokenize": ".responses",
}

__all__ = [
    "Fault",
    "GradedReply",
    "OpenAIStubServer",
    "RecordedRequest",
    "token_logprob",
    "tokenize",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOME[name], __name__), name)
