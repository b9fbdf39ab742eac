"""Log-likelihood of a continuation from an echoed ``/v1/completions`` response.

The server is sent ``prompt = context + continuation`` with ``echo=true``, ``logprobs=1``
and ``max_tokens=0``; it returns the prompt's tokens with their log-probabilities and their
character offsets (``text_offset``) into the echoed text.

Boundary rule: a token belongs to the continuation when its character span ends after the
end of the context (``start + len(token) > len(context)``) and starts inside the prompt
(``start < len(prompt)``, which drops a generated token when the server needed
``max_tokens=1``). A token that straddles the boundary (it starts in the context and ends in
the continuation, e.g. ``":"`` + ``" 4"`` merged into one token) is therefore counted with the
continuation: generating any character of the continuation requires generating that token,
so leaving it out would score the continuation without its first characters.

``is_greedy`` is true when every continuation token is the most likely token at its position
according to ``top_logprobs`` (ties count as greedy), as lm-evaluation-harness defines it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ResponseFormatError

# Tolerance when comparing a token's log-probability with the best alternative.
_GREEDY_EPS = 1e-6


@dataclass(frozen=True)
class ContinuationScore:
    logprob: float
    is_greedy: bool
    num_tokens: int


def _offsets(tokens: Sequence[str], text_offset: Sequence[int] | None) -> list[int]:
    """Character offsets of ``tokens``; rebuilt from token lengths when the server omits them."""
    if text_offset is not None and len(text_offset) == len(tokens):
        return [int(o) for o in text_offset]
    offsets, pos = [], 0
    for tok in tokens:
        offsets.append(pos)
        pos += len(tok)
    return offsets


def continuation_logprob(
    logprobs: dict[str, Any], *, context: str, continuation: str
) -> ContinuationScore:
    """Sum of the continuation tokens' log-probabilities (see the module docstring's rule).

    ``logprobs`` is one choice's ``logprobs`` object: ``tokens``, ``token_logprobs``,
    ``text_offset`` and ``top_logprobs`` (a list of ``{token: logprob}`` dicts).
    Offsets are taken relative to the first token's offset, so servers that count from the
    start of a longer buffer still line up.
    """
    if not isinstance(logprobs, dict):
        raise ResponseFormatError(
            "response has no 'logprobs' object; does the server support echo?"
        )
    tokens = logprobs.get("tokens")
    token_lps = logprobs.get("token_logprobs")
    if not isinstance(tokens, list) or not isinstance(token_lps, list) or not tokens:
        raise ResponseFormatError("response 'logprobs' lacks 'tokens'/'token_logprobs'")
    if len(tokens) != len(token_lps):
        raise ResponseFormatError(
            "response 'logprobs' has tokens and token_logprobs of different lengths"
        )
    offsets = _offsets(tokens, logprobs.get("text_offset"))
    base = offsets[0]
    top = logprobs.get("top_logprobs")
    boundary = len(context)
    end_of_prompt = len(context) + len(continuation)

    total = 0.0
    greedy = True
    count = 0
    for i, tok in enumerate(tokens):
        start = offsets[i] - base
        end = start + len(tok)
        if start >= end_of_prompt:
            break  # generated after the prompt (max_tokens=1 fallback)
        if end <= boundary:
            continue  # wholly inside the context
        lp = token_lps[i]
        if lp is None:
            raise ResponseFormatError(
                f"no log-probability for continuation token {i} ({tok!r}); "
                "the context must not be empty"
            )
        total += float(lp)
        count += 1
        if top is not None and i < len(top) and top[i]:
            alternatives = top[i]
            best = max(float(v) for v in alternatives.values())
            if float(lp) < best - _GREEDY_EPS:
                greedy = False
        elif top is not None:
            greedy = False  # no alternatives reported: cannot confirm greedy
    if count == 0:
        raise ResponseFormatError(
            "no echoed token covers the continuation; does the server echo the prompt?"
        )
    return ContinuationScore(logprob=total, is_greedy=greedy, num_tokens=count)
