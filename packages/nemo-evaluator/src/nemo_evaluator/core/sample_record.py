"""The record of one document in samples.jsonl and report.html, and the tally a run's finish
keeps while it writes them (scores for the aggregates, errors, cache hits, token usage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..benchmarks.base import Benchmark, GenerationRequest, Request, SampleScore


def prompt_of(
    bench: Benchmark, doc: dict[str, Any], requests: Sequence[Request] | None = None
) -> Any:
    """The document's prompt: from ``requests`` (the ones just sent), else rebuilt (a run
    does not hold every prompt in memory)."""
    reqs = requests
    if reqs is None:
        try:
            reqs = bench.build_requests(doc)
        except Exception as err:
            return f"(could not rebuild the prompt: {err})"
    if not reqs:
        return None
    first = reqs[0]
    if isinstance(first, GenerationRequest):
        return first.prompt if first.prompt is not None else list(first.messages or ())
    return {
        "context": first.context,
        "continuations": [getattr(r, "continuation", None) for r in reqs],
    }


def sample_record(
    bench: Benchmark,
    doc: dict[str, Any],
    entry: dict[str, Any],
    score: SampleScore | str | None,
    error: Any,
    requests: Sequence[Request] | None = None,
) -> dict[str, Any]:
    """The samples.jsonl record of ``doc``: its prompt, response, score or error."""
    doc_id = str(doc["doc_id"])
    raw = entry.get("raw")
    scored = score if isinstance(score, SampleScore) else None
    return {
        "doc_id": doc_id,
        "prompt": prompt_of(bench, doc, requests),
        "response": raw[0] if isinstance(raw, list) and len(raw) == 1 else raw,
        "extracted": scored.extracted if scored is not None else None,
        "target": scored.target if scored is not None else None,
        "score": scored.metrics if scored is not None else None,
        "group": scored.group if scored is not None else None,
        "cache_hit": bool(entry.get("cache_hit")),
        "latency_s": entry.get("latency_s"),
        "error": error,
    }


@dataclass
class Tally:
    """What a run's finish counts while it walks the documents."""

    scores: list[SampleScore] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    missing: int = 0
    cache_hits: int = 0
    last_error: Any = None
    error_texts: list[str] = field(default_factory=list)


__all__ = ["Tally", "prompt_of", "sample_record"]
