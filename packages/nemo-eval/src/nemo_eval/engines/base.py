"""The engine interface: what runs the model, independent of how it is served.

An engine takes a batch of tokenized requests and returns one result per request. The
OpenAI layer does the text handling around it; a serving backend decides where the engine
lives (in-process, behind Triton, in Ray replicas) and how requests are batched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class EngineSpec:
    """Everything needed to build an engine again in another process (a Ray replica)."""

    engine: str
    """``hf`` or ``nemo``."""
    path: str
    """An HF directory, a GGUF file, a ``.nemo`` archive or a NeMo 2 directory."""
    device: str = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda``."""
    num_gpus: int = 0
    tensor_parallelism_size: int = 1
    pipeline_parallelism_size: int = 1
    cpu_threads: int | None = None
    """Torch intra-op threads on CPU; ``None``: ``$NEMO_EVAL_CPU_THREADS`` or half the cores."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class GenerateRequest:
    """One completion request in token space."""

    prompt_ids: list[int]
    max_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    logprobs: int | None = None
    """Top-k alternatives per position; ``None`` for no log-probabilities at all."""
    echo: bool = False
    """Also score the prompt (log-probabilities of each prompt token given the ones before)."""
    logprobs_from: int = 0
    """Under ``echo``, the first prompt token whose log-probability is wanted; an engine may
    leave the ones before it ``None`` (and skip their work) or compute them anyway."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerateRequest:
        return cls(**data)


@dataclass
class GenerateResult:
    """What the engine produced for one request."""

    prompt_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str
    prompt_logprobs: list[float | None] | None = None
    prompt_top_logprobs: list[dict[str, float] | None] | None = None
    token_logprobs: list[float] | None = None
    top_logprobs: list[dict[str, float]] | None = None
    stop_token: int | None = None
    """The end-of-sequence token that ended generation, kept (with its log-probability in
    ``token_logprobs``) when logprobs were asked for, as OpenAI's API reports it; never in
    ``text``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerateResult:
        return cls(**data)


Detokenize = Callable[[list[int]], str]


def token_budget(req: GenerateRequest, *, max_context: int) -> int:
    """Tokens to generate: ``max_tokens`` within what the context window leaves."""
    return max(0, min(req.max_tokens, max_context - len(req.prompt_ids)))


def record_logprob(res: GenerateResult, logprob: float, top: dict[str, float]) -> None:
    """Append one generated token's log-probability and its top-k alternatives."""
    assert res.token_logprobs is not None and res.top_logprobs is not None
    res.token_logprobs.append(float(logprob))
    res.top_logprobs.append(top)


def trim_at_stop(res: GenerateResult, stop: list[str], detokenize: Detokenize) -> bool:
    """Cut ``res`` at the first stop string in its text; True when cut.

    The kept tokens are the shortest prefix whose text reaches the stop string (so the last
    kept token may straddle it); their log-probabilities are trimmed with them.
    """
    text = detokenize(res.token_ids)
    hits = [h for h in (text.find(s) for s in stop if s) if h >= 0]
    if not hits:
        return False
    cut = min(hits)
    keep = len(res.token_ids)
    while keep > 0 and len(detokenize(res.token_ids[: keep - 1])) >= cut:
        keep -= 1
    res.token_ids = res.token_ids[:keep]
    if res.token_logprobs is not None and res.top_logprobs is not None:
        res.token_logprobs = res.token_logprobs[:keep]
        res.top_logprobs = res.top_logprobs[:keep]
    res.text = text[:cut]
    res.finish_reason = "stop"
    return True


class Engine(Protocol):
    """A loaded model: tokenizer access and batched generation."""

    model_name: str
    max_context: int

    def tokenize(self, text: str, *, special: bool = True) -> list[int]: ...

    def detokenize(self, ids: list[int]) -> str: ...

    def token_bytes(self, ids: list[int]) -> list[bytes]:
        """Each token's exact bytes; together they spell ``detokenize(ids)``."""
        ...

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str: ...

    def generate(self, requests: list[GenerateRequest]) -> list[GenerateResult]: ...
