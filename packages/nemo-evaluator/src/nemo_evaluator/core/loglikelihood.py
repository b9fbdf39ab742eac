"""Log-likelihood of a continuation from an echoed ``/v1/completions`` response.

The server is sent ``prompt = context + continuation`` with ``echo=true``, ``logprobs=1``
and ``max_tokens=0``; it returns the prompt's tokens with their log-probabilities and their
character offsets (``text_offset``) into the echoed text.

Boundary rule, in bytes of the UTF-8 prompt: a token belongs to the continuation when it
holds any byte of the continuation (it ends after the context) and starts inside the prompt
(which drops a generated token when the server needed ``max_tokens=1``). A token that
straddles the boundary (``":"`` + ``" 4"`` merged into one token, or a character of the
continuation whose first byte shares a token with the context's end) is therefore counted
with the continuation: generating any byte of the continuation requires generating it.

Tokens are placed in the prompt by their bytes (``token_spans``), which works whatever way a
server spells a token holding part of a character. A token whose place cannot be determined,
where it decides the boundary, fails the sample with a ``ResponseFormatError``: a wrong
number would be worse.

``is_greedy`` is true when every continuation token is the most likely token at its position
according to ``top_logprobs`` (ties count as greedy), as lm-evaluation-harness defines it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ResponseFormatError
from .token_spans import Placed, place_tokens, trusted_offsets

# Tolerance when comparing a token's log-probability with the best alternative.
_GREEDY_EPS = 1e-6


@dataclass(frozen=True)
class ContinuationScore:
    logprob: float
    is_greedy: bool
    num_tokens: int


def _boundary_tokens(
    tokens: list[str], text_offset: Any, *, context: str, continuation: str
) -> list[int]:
    """Indices of the prompt ``tokens`` that hold the continuation (see the module docstring)."""
    prompt = (context + continuation).encode()
    boundary = len(context.encode())
    placed = place_tokens(tokens, prompt)
    offsets = trusted_offsets(text_offset, placed, prompt)
    inside: list[int] = []
    for i, p in enumerate(placed):
        if p.span is not None:
            start, end = p.span
            if start >= len(prompt):
                break  # generated after the prompt (max_tokens=1 fallback)
            if end > boundary:
                inside.append(i)
            continue
        if p.lo >= len(prompt):
            break
        side = _side_of_unplaced(
            i, placed, offsets, tokens, context=context, continuation=continuation
        )
        if side is None:
            raise ResponseFormatError(
                f"cannot tell whether echoed token {i} ({tokens[i]!r}) belongs to the context or "
                "the continuation: the server hides the bytes of a token that holds part of a "
                "character and its text_offset is missing or disagrees with the tokens; use a "
                "server that spells such tokens 'bytes:\\xNN' (as OpenAI and nemo-eval do)"
            )
        if side:
            inside.append(i)
    if placed and all(p.span for p in placed) and placed[-1].span[1] < len(prompt):  # type: ignore[index]
        raise ResponseFormatError(
            "the echoed tokens do not spell the prompt; the server changed the text "
            "(normalization or a different tokenizer)"
        )
    return inside


def _side_of_unplaced(
    i: int,
    placed: list[Placed],
    offsets: list[int] | None,
    tokens: list[str],
    *,
    context: str,
    continuation: str,
) -> bool | None:
    """True: token ``i`` (not placed) is in the continuation; False: context; None: unknown."""
    boundary = len(context.encode())
    p = placed[i]
    if p.lo >= boundary:
        return True
    if not tokens[i]:
        # vLLM holds back a token that ends inside a character ("") and spells the held
        # bytes with the token that completes the character: this token lies in that span
        j = i + 1
        while j < len(placed) and not tokens[j]:
            j += 1
        if j < len(placed) and placed[j].span is not None:
            start, end = placed[j].span  # type: ignore[misc]
            if start >= boundary:
                return True
            if end <= boundary:
                return False
        return None
    following = next((q.span for q in placed[i + 1 :] if q.span is not None), None)
    if following is not None and following[0] <= boundary:
        return False  # it ends before a placed token that starts in the context
    if offsets is not None:
        c = len(context)
        if offsets[i] >= c:
            return True
        nxt = offsets[i + 1] if i + 1 < len(offsets) else None
        if nxt is not None and (nxt < c or (nxt == c and len(continuation[:1].encode()) <= 1)):
            return False
    return None


def continuation_logprob(
    logprobs: dict[str, Any], *, context: str, continuation: str, generated: int = 0
) -> ContinuationScore:
    """Sum of the continuation tokens' log-probabilities (see the module docstring's rule).

    ``logprobs`` is one choice's ``logprobs`` object: ``tokens``, ``token_logprobs``,
    ``text_offset`` and ``top_logprobs`` (a list of ``{token: logprob}`` dicts).
    ``generated`` is the ``max_tokens`` the request asked for: that many tokens at the end
    are the server's own, not the prompt's.
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
    top = logprobs.get("top_logprobs")
    total = 0.0
    greedy = True
    count = 0
    offsets = logprobs.get("text_offset")
    if generated:
        tokens = tokens[: max(1, len(tokens) - generated)]
        offsets = offsets[: len(tokens)] if isinstance(offsets, list) else offsets
    for i in _boundary_tokens(tokens, offsets, context=context, continuation=continuation):
        lp = token_lps[i]
        if lp is None:
            raise ResponseFormatError(
                f"no log-probability for continuation token {i} ({tokens[i]!r}); "
                "the context must not be empty"
            )
        total += float(lp)
        count += 1
        if top is not None and i < len(top) and top[i]:
            best = max(float(v) for v in top[i].values())
            if float(lp) < best - _GREEDY_EPS:
                greedy = False
        elif top is not None:
            greedy = False  # no alternatives reported: cannot confirm greedy
    if count == 0:
        raise ResponseFormatError(
            "no echoed token covers the continuation; does the server echo the prompt?"
        )
    return ContinuationScore(logprob=total, is_greedy=greedy, num_tokens=count)
