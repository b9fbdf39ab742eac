from __future__ import annotations

import pytest

from nemo_evaluator.core.client import apply_stops
from nemo_evaluator.core.errors import ResponseFormatError
from nemo_evaluator.core.loglikelihood import continuation_logprob


def lp(tokens, logprobs, offsets=None, top=None):
    out = {"tokens": tokens, "token_logprobs": logprobs}
    if offsets is not None:
        out["text_offset"] = offsets
    if top is not None:
        out["top_logprobs"] = top
    return out


def test_clean_boundary_sums_only_continuation_tokens():
    # "Answer:" | " 42" -> tokens "Answer", ":", " 4", "2"
    data = lp(["Answer", ":", " 4", "2"], [None, -1.0, -0.5, -0.25], [0, 6, 7, 9])
    got = continuation_logprob(data, context="Answer:", continuation=" 42")
    assert got.logprob == pytest.approx(-0.75)
    assert got.num_tokens == 2


def test_token_straddling_the_boundary_counts_with_the_continuation():
    # context "The sky is b", continuation "lue": the token " blue" starts in the context
    data = lp(["The", " sky", " is", " blue"], [None, -1.0, -2.0, -0.3], [0, 3, 7, 10])
    got = continuation_logprob(data, context="The sky is b", continuation="lue")
    assert got.logprob == pytest.approx(-0.3)
    assert got.num_tokens == 1
    # a context ending exactly before the token leaves it wholly in the continuation too
    same = continuation_logprob(data, context="The sky is", continuation=" blue")
    assert same.logprob == pytest.approx(-0.3)
    # a context ending after a token's end excludes that token
    two = continuation_logprob(data, context="The sky", continuation=" is blue")
    assert two.logprob == pytest.approx(-2.3)


def test_generated_token_after_the_prompt_is_ignored():
    # max_tokens=1 fallback: the server appends one generated token at offset len(prompt)
    data = lp(["Q", ":", " yes", " and"], [None, -0.1, -0.7, -5.0], [0, 1, 2, 6])
    got = continuation_logprob(data, context="Q:", continuation=" yes", generated=1)
    assert got.logprob == pytest.approx(-0.7)
    # placed by its bytes, the generated token is past the prompt even when not announced
    assert continuation_logprob(data, context="Q:", continuation=" yes").logprob == pytest.approx(
        -0.7
    )


def test_offsets_relative_to_the_first_token_and_rebuilt_when_missing():
    shifted = lp(["a", "b", "c"], [None, -1.0, -2.0], [100, 101, 102])
    assert continuation_logprob(shifted, context="ab", continuation="c").logprob == pytest.approx(
        -2.0
    )
    no_offsets = lp(["ab", "cd", "ef"], [None, -1.0, -2.0])
    got = continuation_logprob(no_offsets, context="abc", continuation="def")
    assert got.logprob == pytest.approx(-3.0)  # "cd" straddles, "ef" is inside


def test_is_greedy_from_top_logprobs():
    top_greedy = [None, {"x": -1.0}, {" 4": -0.5, " 5": -0.9}, {"2": -0.25}]
    data = lp(["Answer", ":", " 4", "2"], [None, -1.0, -0.5, -0.25], [0, 6, 7, 9], top_greedy)
    assert continuation_logprob(data, context="Answer:", continuation=" 42").is_greedy is True
    top_not = [None, {"x": -1.0}, {" 5": -0.1, " 4": -0.5}, {"2": -0.25}]
    data = lp(["Answer", ":", " 4", "2"], [None, -1.0, -0.5, -0.25], [0, 6, 7, 9], top_not)
    assert continuation_logprob(data, context="Answer:", continuation=" 42").is_greedy is False
    # a context token that is not greedy does not matter
    top_ctx = [None, {"!": -0.01}, {" 4": -0.5}, {"2": -0.25}]
    data = lp(["Answer", ":", " 4", "2"], [None, -1.0, -0.5, -0.25], [0, 6, 7, 9], top_ctx)
    assert continuation_logprob(data, context="Answer:", continuation=" 42").is_greedy is True


@pytest.mark.parametrize(
    "data, message",
    [
        (None, "no 'logprobs'"),
        ({"tokens": ["a"]}, "lacks"),
        (lp(["a", "b"], [None]), "different lengths"),
        (lp(["ab"], [None], [0]), "no log-probability"),
    ],
)
def test_malformed_logprobs_raise_one_line_errors(data, message):
    with pytest.raises(ResponseFormatError, match=message):
        continuation_logprob(data, context="a", continuation="b")


def test_empty_continuation_is_an_error():
    data = lp(["a", "b"], [None, -1.0], [0, 1])
    with pytest.raises(ResponseFormatError, match="no echoed token"):
        continuation_logprob(data, context="ab", continuation="")


def test_apply_stops_cuts_at_the_earliest_stop():
    assert apply_stops("x\n#### 5\n\nQuestion: y", ["Question:", "\n\n"]) == "x\n#### 5"
    assert apply_stops("no stop here", ["Question:"]) == "no stop here"
    assert apply_stops("abc", [""]) == "abc"
    assert apply_stops("x</s>y<|im_end|>", ("<|im_end|>", "</s>")) == "x"  # any order
    assert apply_stops("plain", ()) == "plain"
