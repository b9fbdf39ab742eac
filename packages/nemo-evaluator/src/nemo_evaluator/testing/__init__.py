"""Test helpers other test suites and benchmarks reuse: an OpenAI-compatible stub upstream
and a reply of known accuracy."""

from __future__ import annotations

from .graded import GradedReply
from .openai_stub import Fault, OpenAIStubServer, RecordedRequest
from .responses import token_logprob, tokenize

__all__ = [
    "Fault",
    "GradedReply",
    "OpenAIStubServer",
    "RecordedRequest",
    "token_logprob",
    "tokenize",
]
