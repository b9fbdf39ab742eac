"""The order documents go out in: log-likelihood documents of similar length together.

A server that batches (``nemo-eval deploy``, vLLM) pads each batch to its longest prompt, and
the requests in flight at one moment are what it batches. Sent in the dataset's order, a
200-question MMLU sample (prompts of 44 to 180 tokens) has batches of 8 documents that are
34% padding; sent longest first within windows of 64 documents, 15%, of 256, 10% (and 9%
with the whole set sorted, as lm-eval does in-process before it batches; bench/padding.py
prints these figures). The tokenizer is the server's, so here the length
is estimated from the text: runs of letters, single digits and other characters count one
each, which follows SmolLM2's token counts far better than characters do on math-heavy
subjects). Only dispatch changes: each document's requests, scores and place in the outputs
stay the same, and documents still finish about in order, so the rows stream out while the
run goes on (:mod:`.in_order` holds at most a window and the requests in flight).

Generation documents keep their order: a window is sorted only when every request in it is
a :class:`~nemo_evaluator.benchmarks.base.LoglikelihoodRequest`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..benchmarks.base import Benchmark, LoglikelihoodRequest, Request

WINDOW_PER_WORKER = 32
"""Documents sorted at once, per unit of parallelism (at most half of what may be held)."""


def window_for(parallelism: int, held_limit: int) -> int:
    """The window for ``parallelism`` workers whose finished documents may be held up to
    ``held_limit`` (half of it: the window plus the documents in flight must fit)."""
    if parallelism <= 1:
        return 0  # one request at a time: nothing is batched
    return min(WINDOW_PER_WORKER * parallelism, held_limit // 2)


_PIECES = re.compile(r"[^\W\d_]+|\d|\S")


def estimated_tokens(text: str) -> int:
    """Runs of letters, single digits and other non-space characters in ``text``."""
    return len(_PIECES.findall(text))


def _length(reqs: list[Request] | None) -> int | None:
    """Estimated tokens of the longest prompt (see the module docstring), or None when not
    all are log-likelihood requests."""
    if not reqs or not all(isinstance(r, LoglikelihoodRequest) for r in reqs):
        return None
    contexts: dict[str, int] = {}  # the choices of a question share their context
    longest = 0
    for r in reqs:
        assert isinstance(r, LoglikelihoodRequest)
        if r.context not in contexts:
            contexts[r.context] = estimated_tokens(r.context)
        longest = max(longest, contexts[r.context] + estimated_tokens(r.continuation))
    return longest


def dispatch_order(
    bench: Benchmark, docs: Iterable[dict[str, Any]], window: int
) -> Iterator[tuple[dict[str, Any], list[Request] | None]]:
    """Each document with its requests (None when building them failed: the worker builds
    again and records the error), windows of log-likelihood documents longest first."""
    it = iter(docs)
    while chunk := list(itertools.islice(it, max(1, window))):
        built: list[tuple[dict[str, Any], list[Request] | None]] = []
        for doc in chunk:
            try:
                built.append((doc, bench.build_requests(doc)))
            except Exception:
                built.append((doc, None))
        lengths = [_length(reqs) for _, reqs in built]
        if window > 1 and all(n is not None for n in lengths):
            order = sorted(range(len(built)), key=lambda i: -lengths[i])  # type: ignore[operator]
            built = [built[i] for i in order]
        yield from built
