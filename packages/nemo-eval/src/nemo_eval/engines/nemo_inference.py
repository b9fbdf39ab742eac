"""The ``nemo`` engine's request and result mapping, free of torch, NeMo and Megatron.

Megatron-core's static inference engine (``megatron.core.inference``, 0.14) runs one batch with
one ``SamplingParams`` for every request in it (``generate_all_output_tokens_static_batch``
takes the first request's), has no stop strings and no per-request seed, and drops the
end-of-sequence token from its output unless told not to stop there (``no_early_termination``).
This module bridges that to the ``Engine`` contract the ``hf`` engine defines:

- requests are grouped by everything their sampling parameters hold, and each group runs as one
  Megatron batch (:func:`group_requests`, :func:`sampling_fields`);
- a request that wants log-probabilities runs without early termination, so the token that ends
  generation comes back with its log-probability and is kept as ``stop_token``, as the ``hf``
  engine and OpenAI's API report it (log-likelihood clients drop exactly one generated token);
- stop strings and end-of-sequence tokens are applied to the output afterwards
  (:func:`build_result`), with the same rule as the ``hf`` engine: the text is cut at the first
  stop string and the tokens past it are dropped.

Everything here works on plain lists, so it is tested on the CPU with real values.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .base import (
    Detokenize,
    GenerateRequest,
    GenerateResult,
    record_logprob,
    token_budget,
    trim_at_stop,
)


@dataclass(frozen=True)
class SamplingKey:
    """What one Megatron batch shares; requests with equal keys run together."""

    temperature: float
    top_k: int
    top_p: float
    num_tokens_to_generate: int
    return_log_probs: bool
    top_n_logprobs: int
    return_prompt_top_n_logprobs: bool
    no_early_termination: bool
    seed: int | None


def sampling_fields(
    req: GenerateRequest, *, max_context: int, rng: random.Random | None = None
) -> SamplingKey:
    """The Megatron sampling parameters of one request.

    Megatron samples greedily when ``top_k == 1`` and divides the logits by ``temperature``
    otherwise, so temperature 0 (or a top-p of 0, which keeps only the best token) becomes
    ``top_k=1``. Its ``top_p=0`` means "no top-p filtering", our ``top_p=1``. A sampled request
    without a seed gets a random one here, so every tensor-parallel rank can be given the same.
    """
    greedy = req.temperature <= 0 or req.top_p <= 0
    want = req.logprobs is not None
    top_n = int(req.logprobs or 0)
    if greedy:
        temperature, top_k, top_p, seed = 1.0, 1, 0.0, None
    else:
        temperature, top_k = float(req.temperature), 0
        top_p = float(req.top_p) if req.top_p < 1.0 else 0.0
        seed = req.seed if req.seed is not None else (rng or random).getrandbits(63)
    return SamplingKey(
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        num_tokens_to_generate=token_budget(req, max_context=max_context),
        return_log_probs=want,
        top_n_logprobs=top_n,
        return_prompt_top_n_logprobs=bool(req.echo and want and top_n > 0),
        no_early_termination=want,
        seed=seed,
    )


def group_requests(
    requests: Iterable[GenerateRequest], *, max_context: int, rng: random.Random | None = None
) -> list[tuple[SamplingKey, list[int]]]:
    """Indices of the requests grouped by sampling key, in order of first appearance.

    Two sampled requests without a seed never share a group (each gets its own random seed),
    which matches the hf engine, where every such row draws from its own generator.
    """
    groups: dict[SamplingKey, list[int]] = {}
    for index, req in enumerate(requests):
        key = sampling_fields(req, max_context=max_context, rng=rng)
        groups.setdefault(key, []).append(index)
    return list(groups.items())


def megatron_sampling_kwargs(key: SamplingKey) -> dict[str, Any]:
    """Keyword arguments of ``megatron.core.inference.sampling_params.SamplingParams``."""
    return {
        "temperature": key.temperature,
        "top_k": key.top_k,
        "top_p": key.top_p,
        "return_log_probs": key.return_log_probs,
        "num_tokens_to_generate": key.num_tokens_to_generate,
        "top_n_logprobs": key.top_n_logprobs,
        "return_prompt_top_n_logprobs": key.return_prompt_top_n_logprobs,
    }


def _tops(values: list[Mapping[str, float]] | None, count: int, k: int) -> list[dict[str, float]]:
    if k <= 0 or values is None:
        return [{} for _ in range(count)]
    if len(values) < count:
        raise ValueError(f"got {len(values)} top-k maps for {count} positions")
    return [dict(v) for v in values[:count]]


def build_result(
    req: GenerateRequest,
    *,
    tokens: list[int],
    key: SamplingKey,
    eos_ids: set[int],
    detokenize: Detokenize,
    generated_log_probs: list[float] | None = None,
    generated_top: list[Mapping[str, float]] | None = None,
    prompt_log_probs: list[float] | None = None,
    prompt_top: list[Mapping[str, float]] | None = None,
) -> GenerateResult:
    """Turn one Megatron output (``InferenceRequest`` fields as lists) into a ``GenerateResult``.

    ``tokens``, ``generated_log_probs`` and ``generated_top`` are the generated positions
    (``generated_tokens``, ``generated_log_probs``, ``generated_top_n_logprobs``);
    ``prompt_log_probs`` and ``prompt_top`` cover prompt tokens 2..n (Megatron's
    ``prompt_log_probs`` and ``prompt_top_n_logprobs``: it cannot score the first token).
    """
    want = req.logprobs is not None
    k = int(req.logprobs or 0)
    res = GenerateResult(
        prompt_ids=list(req.prompt_ids), token_ids=[], text="", finish_reason="length"
    )
    if want:
        if generated_log_probs is None or len(generated_log_probs) < len(tokens):
            raise ValueError("Megatron returned fewer generated log-probabilities than tokens")
        tops = _tops(generated_top, len(tokens), k)
        res.token_logprobs, res.top_logprobs = [], []
    budget = key.num_tokens_to_generate
    cut = False
    for i, token in enumerate(tokens[:budget]):
        if token in eos_ids:
            res.finish_reason = "stop"
            if want:
                assert generated_log_probs is not None
                res.stop_token = token
                record_logprob(res, generated_log_probs[i], tops[i])
            break
        res.token_ids.append(int(token))
        if want:
            assert generated_log_probs is not None
            record_logprob(res, generated_log_probs[i], tops[i])
        if req.stop and trim_at_stop(res, req.stop, detokenize):
            cut = True
            break
    else:
        # Megatron stopped before the budget without returning the end token: it hit its own
        # end-of-document id (early termination is on when no log-probabilities are wanted).
        if not key.no_early_termination and len(tokens) < budget:
            res.finish_reason = "stop"
    if not cut:
        res.text = detokenize(res.token_ids)
    if req.echo and want:
        scored = list(prompt_log_probs or [])
        expected = len(req.prompt_ids) - 1
        if len(scored) != expected:
            raise ValueError(f"Megatron scored {len(scored)} prompt tokens, expected {expected}")
        res.prompt_logprobs = [None, *(float(v) for v in scored)]
        res.prompt_top_logprobs = [None, *_tops(prompt_top, expected, k)]
    return res


def context_length(config: Mapping[str, Any]) -> int | None:
    """The model's context window from an inspected checkpoint config, if it says.

    NeMo 2 ``context/model.yaml`` nests the model config under ``config`` (``seq_length``);
    a ``.nemo`` archive's ``model_config.yaml`` has ``encoder_seq_length`` or
    ``max_position_embeddings`` at the top.
    """
    for scope in (config.get("config"), config):
        if not isinstance(scope, Mapping):
            continue
        for name in ("seq_length", "encoder_seq_length", "max_position_embeddings"):
            value = scope.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None
