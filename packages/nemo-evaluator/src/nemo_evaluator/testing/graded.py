"""A stub reply with a known accuracy on gsm8k-style questions, for statistics tests.

    reply = GradedReply(questions_and_answers, accuracy=0.75, seed=1)
    OpenAIStubServer(reply=reply)

Each question is answered right or wrong by a fixed seeded draw per question (so a rerun,
and a resume, gives the same answer), right with probability ``accuracy``. Two replies with
different seeds are independent of each other item by item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


class GradedReply:
    """``reply(prompt, payload)`` for :class:`OpenAIStubServer`; answers ``#### N``."""

    def __init__(self, answers: Mapping[str, str], *, accuracy: float, seed: int = 0) -> None:
        if not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"accuracy must be between 0 and 1 (got {accuracy})")
        self.answers = dict(answers)
        self.accuracy = accuracy
        self.seed = seed

    def correct(self, question: str) -> bool:
        digest = hashlib.sha256(f"{self.seed}:{question}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.accuracy

    def __call__(self, prompt: str, payload: dict[str, Any]) -> str:
        question = prompt.rsplit("Question: ", 1)[-1].split("\nAnswer:", 1)[0].strip()
        target = self.answers.get(question)
        if target is None:
            return " I do not know.\n#### 0"
        if self.correct(question):
            return f" The answer is {target}.\n#### {target}"
        wrong = str(int(target.replace(",", "")) + 1)
        return f" The answer is {wrong}.\n#### {wrong}"
