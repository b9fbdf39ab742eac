"""The most frequent causes of failed samples, for the console summary.

A sample's error message carries a cause (``upstream answered HTTP 500``, ``request failed:
ReadTimeout``) followed by details that differ from sample to sample (the body, a URL);
grouping on the cause gives a short table such as::

    3 of 40 samples failed; most frequent causes:
      2  upstream answered HTTP 500
      1  request failed: ReadTimeout
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_EXCEPTION_NAME = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Timeout|Exit)\b")
_ATTEMPTS = re.compile(r"\s*\(after \d+ attempts\)$")
_MAX_CAUSE = 120


def error_cause(message: str) -> str:
    """The part of an error message shared by samples that failed the same way."""
    text = _ATTEMPTS.sub("", message.strip().splitlines()[0] if message.strip() else "")
    head, sep, rest = text.partition(": ")
    if sep:
        name = _EXCEPTION_NAME.match(rest)
        if name:
            head = f"{head}: {name.group(0)}"
    return head[:_MAX_CAUSE] or "unknown error"


def top_causes(errors: Iterable[str], *, limit: int = 5) -> list[tuple[str, int]]:
    """``(cause, count)`` for the ``limit`` most frequent causes, most frequent first."""
    return Counter(error_cause(e) for e in errors).most_common(limit)


def summary_lines(errors: list[str], *, total: int, limit: int = 5) -> list[str]:
    """Console lines: the failed count, then one line per frequent cause; empty when none."""
    if not errors:
        return []
    causes = top_causes(errors, limit=limit)
    lines = [f"{len(errors)} of {total} samples failed; most frequent causes:"]
    width = len(str(causes[0][1]))
    lines += [f"  {count:>{width}}  {cause}" for cause, count in causes]
    others = len(errors) - sum(count for _, count in causes)
    if others:
        lines.append(f"  {others:>{width}}  other causes (see samples.jsonl)")
    return lines


__all__ = ["error_cause", "summary_lines", "top_causes"]
