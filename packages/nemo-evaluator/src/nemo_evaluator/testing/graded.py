"""A stub reply with a known accuracy on gsm8k-style questions, for statistics tests.

    reply = GradedReply(questions_and_answers, accuracy=0.75, seed=1)
    OpenAIStubServer(reply=reply)

Each question is answered right or wrong by a fixed seeded draw per question (so a rerun,
and a resume, gives the same answer), right with probability ``accuracy``. Two replies with
different seeds are independent of each other item by item. With ``per_request_seed`` the
request's own ``seed`` joins the draw (repeats of one question then differ), and a wrong
answer is one of three wrong numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


class GradedReply:
    """``reply(prompt, payload)`` for :class:`OpenAIStubServer`; answers ``#### N``."""

    def __init__(
        self,
        answers: Mapping[str, str],
        *,
        accuracy: float,
        seed: int = 0,
        per_request_seed: bool = False,
    ) -> None:
        if not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"accuracy must be between 0 and 1 (got {accuracy})")
        self.answers = dict(answers)
        self.accuracy = accuracy
        self.seed = seed
        self.per_request_seed = per_request_seed

    def _draw(self, question: str, request_seed: object) -> float:
        salt = f"{self.seed}:{request_seed if self.per_request_seed else ''}:{question}"
        return int.from_bytes(hashlib.sha256(salt.encode()).digest()[:8], "big") / 2**64

    def correct(self, question: str, request_seed: object = None) -> bool:
        return self._draw(question, request_seed) < self.accuracy

    def __call__(self, prompt: str, payload: dict[str, Any]) -> str:
        question = prompt.rsplit("Question: ", 1)[-1].split("\nAnswer:", 1)[0].strip()
        target = self.answers.get(question)
        if target is None:
            return " I do not know.\n#### 0"
        draw = self._draw(question, payload.get("seed"))
        if draw < self.accuracy:
            return f" The answer is {target}.\n#### {target}"
        offset = (
            1 + int((draw - self.accuracy) / (1.0 - self.accuracy) * 3)
            if self.per_request_seed
            else 1
        )
        wrong = str(int(target.replace(",", "")) + offset)
        return f" The answer is {wrong}.\n#### {wrong}"
