"""Test helpers other test suites and benchmarks reuse: an OpenAI-compatible stub upstream."""

from __future__ import annotations

from .openai_stub import Fault, OpenAIStubServer, RecordedRequest
from .responses import token_logprob, tokenize

__all__ = ["Fault", "OpenAIStubServer", "RecordedRequest", "token_logprob", "tokenize"]
