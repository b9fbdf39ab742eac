from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import evalcore_support
from evalcore_upstream import Upstream


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    # answer two of every three questions right, the rest wrong, so scores are not trivial
    for i, doc in enumerate(evalcore_support.read_jsonl(evalcore_support.GSM8K_TEST, 60)):
        target = evalcore_support.gsm8k_target(doc)
        answer = target if i % 3 else str(int(target.replace(",", "")) + 1)
        server.answers[doc["question"]] = f" Let me think.\n#### {answer}\n\nQuestion: more"
    yield server
    server.stop()


def expected_strict_match(n: int) -> float:
    """The tiny_gsm8k accuracy the upstream fixture gives on the first ``n`` items."""
    return sum(1 for i in range(n) if i % 3) / n
