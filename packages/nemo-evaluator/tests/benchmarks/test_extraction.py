"""The lm-eval filter and metric semantics, case by case."""

from __future__ import annotations

from nemo_evaluator.benchmarks.extraction import (
    INVALID,
    RegexFilter,
    exact_match,
    extract_choice_letter,
)


def test_regex_filter_takes_first_nonempty_group_and_strips() -> None:
    f = RegexFilter(r"(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select=-1)
    assert f.apply("a 7 then 12 then 3") == "3"  # second alternative group
    assert f.apply("costs $4.50") == "$4.50"
    assert f.apply("no digits") == INVALID
    assert RegexFilter(r"#### (\-?[0-9\.\,]+)").apply("#### 5\n#### 6") == "5"


def test_exact_match_options() -> None:
    assert exact_match("ABC", "abc", ignore_case=True) == 1.0
    assert exact_match("ABC", "abc") == 0.0
    assert exact_match("a.b", "ab", ignore_punctuation=True) == 1.0
    assert exact_match(" 18", "18") == 0.0  # no implicit strip, as in lm-eval
    assert exact_match("18.", "x #### 18", regexes_to_ignore=(r"(?s).*#### ", r"\.$")) == 1.0


def test_choice_letter_extraction() -> None:
    letters = "ABCD"
    assert extract_choice_letter("Reasoning... The best answer is C", letters) == "C"
    assert extract_choice_letter("The best answer is: (B).", letters) == "B"
    assert extract_choice_letter("the answer is **D**", letters) == "D"
    assert extract_choice_letter("B. Because light", letters) == "B"
    assert extract_choice_letter("(A)", letters) == "A"
    # The last statement wins; letters outside the choices are invalid.
    assert extract_choice_letter("answer is A... no, the answer is C", letters) == "C"
    assert extract_choice_letter("The best answer is E", letters) == INVALID
    assert extract_choice_letter("A plant makes food", letters) == INVALID
    assert extract_choice_letter("C\nbecause plants", letters) == "C"
    assert extract_choice_letter("I think so", letters) == INVALID
