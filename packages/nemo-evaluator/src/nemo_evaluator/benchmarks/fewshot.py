"""Few-shot selection and prompt assembly, reproducing lm-evaluation-harness.

lm-eval draws each document's examples with ``random.Random(1234).sample(pool, k)`` from ONE
generator per task, called once per document in document order; so the examples of document i
depend on the i draws before it. ``sequential_draws`` replays exactly that sequence (the draw
only depends on the pool size, so indices stand in for the documents). When the few-shot split
is the evaluation split (or neither is named, as for HellaSwag), lm-eval draws ``k + 1`` and
drops the document itself; ``extra_draw`` reproduces that.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

DEFAULT_FEWSHOT_SEED = 1234
TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"


def sequential_draws(
    pool_size: int, k: int, num_docs: int, *, seed: int, extra_draw: bool = False
) -> list[list[int]]:
    """Pool indices of the few-shot examples of documents ``0 .. num_docs-1``."""
    if k <= 0:
        return [[] for _ in range(num_docs)]
    n = k + 1 if extra_draw else k
    if n > pool_size:
        raise ValueError(f"{k} few-shot examples requested from a pool of {pool_size}")
    rnd = random.Random(seed)
    # Examples from another split never equal the document, so the k+1-th draw is dropped.
    return [rnd.sample(range(pool_size), n)[:k] for _ in range(num_docs)]


def first_n(pool_size: int, k: int) -> list[int]:
    """lm-eval's ``first_n`` sampler (MMLU): the first ``k`` examples in file order."""
    if k > pool_size:
        raise ValueError(f"{k} few-shot examples requested from a pool of {pool_size}")
    return list(range(k))


def completion_context(
    examples: Sequence[tuple[str, str]],
    query: str,
    *,
    description: str = "",
    target_delimiter: str = TARGET_DELIMITER,
    fewshot_delimiter: str = FEWSHOT_DELIMITER,
) -> str:
    """``description + (text + delimiter + target + fewshot_delimiter) * k + query``."""
    parts = [description]
    for text, target in examples:
        parts.append(text)
        if target != "":
            parts.append(target_delimiter + target + fewshot_delimiter)
    parts.append(query)
    return "".join(parts)


def chat_messages(
    examples: Sequence[tuple[str, str]], query: str, *, system: str | None = None
) -> tuple[dict[str, str], ...]:
    """lm-eval's ``--apply_chat_template --fewshot_as_multiturn`` messages: an optional
    system message, one user/assistant pair per example, then the query as a user turn."""
    messages: list[dict[str, str]] = []
    if system:
        messages.append({"role": "system", "content": system})
    for text, target in examples:
        messages.append({"role": "user", "content": text})
        messages.append({"role": "assistant", "content": target})
    messages.append({"role": "user", "content": query})
    return tuple(messages)
