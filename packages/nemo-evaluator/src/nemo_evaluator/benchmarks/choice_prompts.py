"""The letter-answer prompt of the chat variants of multiple-choice benchmarks.

It follows lm-evaluation-harness ``arc_challenge_chat`` (itself from the Llama 3 evaluation
details), listing every choice: for four choices the text is identical to lm-eval's.
"""

from __future__ import annotations

from collections.abc import Sequence

LETTERS = "ABCDEFGHIJ"
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
ANSWER_PREFIX = "The best answer is"


def _letter_list(letters: Sequence[str]) -> str:
    if len(letters) == 1:
        return letters[0]
    return ", ".join(letters[:-1]) + " and " + letters[-1]


def letter_prompt(question: str, choices: Sequence[str]) -> str:
    """``Given the following question and four candidate answers (A, B, C and D) ...``."""
    letters = list(LETTERS[: len(choices)])
    count = _NUMBER_WORDS.get(len(choices), str(len(choices)))
    lines = [
        f"Given the following question and {count} candidate answers "
        f"({_letter_list(letters)}), choose the best answer.",
        f"Question: {question.strip()}",
    ]
    lines += [f"{letter}. {choice}" for letter, choice in zip(letters, choices, strict=True)]
    lines.append(
        f'Your response should end with "{ANSWER_PREFIX} [the_answer_letter]" where the '
        f"[the_answer_letter] is one of {_letter_list(letters).replace(' and ', ' or ')}."
    )
    return "\n".join(lines)


def letter_answer(index: int) -> str:
    """The assistant turn of a few-shot example."""
    return f"{ANSWER_PREFIX} {LETTERS[index]}"
