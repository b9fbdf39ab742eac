"""Answer extraction and string matching, with lm-evaluation-harness semantics.

``RegexFilter`` mirrors lm-eval's ``regex`` filter (``findall``, ``group_select``, the first
non-empty group of a tuple match, ``strip()``, fallback ``[invalid]``); ``exact_match`` mirrors its
``exact_match`` metric (``regexes_to_ignore`` applied in order to both sides, then case and
punctuation folding, no other normalisation).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

INVALID = "[invalid]"
_PUNCT_TABLE = str.maketrans("", "", string.punctuation)


class RegexFilter:
    """Pick one match of ``pattern`` from a response (``group_select`` indexes ``findall``)."""

    def __init__(self, pattern: str, *, group_select: int = 0, fallback: str = INVALID) -> None:
        self.regex = re.compile(pattern)
        self.group_select = group_select
        self.fallback = fallback

    def apply(self, text: str) -> str:
        matches = self.regex.findall(text)
        if not matches:
            return self.fallback
        try:
            match = matches[self.group_select]
        except IndexError:
            return self.fallback
        if isinstance(match, tuple):
            non_empty = [m for m in match if m]
            if not non_empty:
                return self.fallback
            match = non_empty[0]
        return str(match).strip()


def exact_match(
    prediction: str,
    reference: str,
    *,
    regexes_to_ignore: Sequence[str | re.Pattern[str]] = (),
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
) -> float:
    """1.0 when the two strings are equal after the lm-eval normalisations, else 0.0
    (``regexes_to_ignore`` may be compiled: a task that scores every sample saves the lookup
    in ``re``'s cache, 16 of them per gsm8k sample)."""
    for pattern in regexes_to_ignore:
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
        prediction = rx.sub("", prediction)
        reference = rx.sub("", reference)
    if ignore_case:
        prediction = prediction.lower()
        reference = reference.lower()
    if ignore_punctuation:
        prediction = prediction.translate(_PUNCT_TABLE)
        reference = reference.translate(_PUNCT_TABLE)
    return 1.0 if prediction == reference else 0.0


_ANSWER_IS = re.compile(r"(?i:answer is)\s*:?\s*[\(\[*]*\s*([A-Z])(?![A-Za-z])")
_LEADING_LETTER = re.compile(r"^\s*[\(\[*]*([A-Z])(?:[\)\].:*]|[ \t]*\n|\s*$)")


def extract_choice_letter(text: str, letters: Sequence[str]) -> str:
    """The chosen letter of a chat answer: the last "answer is X" (any case, optional colon,
    bracket or bold), else a letter that opens the response on its own ("B", "(B)", "B.", "B\\n..."; not
    the article in "A plant ...");
    ``[invalid]`` when neither names one of ``letters``."""
    found: list[str] = [m for m in _ANSWER_IS.findall(text) if m in letters]
    if found:
        return found[-1]
    lead = _LEADING_LETTER.match(text)
    if lead and lead.group(1) in letters:
        return str(lead.group(1))
    return INVALID
