from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nemo_evaluator.testing import OpenAIStubServer

sys.path.insert(0, str(Path(__file__).parent))

import evalcore_support


def gsm8k_reply() -> Any:
    """Answers the first 60 gsm8k test questions: two of every three right, the rest wrong,
    with text after the answer that the stop sequences must cut."""
    answers: dict[str, str] = {}
    for i, doc in enumerate(evalcore_support.read_jsonl(evalcore_support.GSM8K_TEST, 60)):
        target = evalcore_support.gsm8k_target(doc)
        answer = target if i % 3 else str(int(target.replace(",", "")) + 1)
        answers[doc["question"]] = f" Let me think.\n#### {answer}\n\nQuestion: more"

    def reply(prompt: str, payload: dict[str, Any]) -> str:
        for question, answer in answers.items():
            if question in prompt:
                return answer
        return " I do not know.\n#### 0"

    return reply


@pytest.fixture
def gsm8k_upstream() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(model="stub-model", reply=gsm8k_reply(), threads=16) as server:
        yield server
