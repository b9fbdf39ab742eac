"""Continuation tokens of prompts with characters split across tokens, in every spelling.

The token splits are SmolLM2's: ``∃`` (E2 88 83) is the tokens ``E2 88`` + ``83``, with the
space before it merged into the first: ``" \\xe2\\x88"``.
"""

from __future__ import annotations

import pytest

from nemo_evaluator.core.errors import ResponseFormatError
from nemo_evaluator.core.loglikelihood import continuation_logprob
from nemo_evaluator.core.token_spans import char_index, char_of_byte, place_tokens, token_bytes

LPS = [None, -1.0, -2.0, -4.0, -8.0, -16.0]


def lp(tokens: list[str], offsets: list[int] | None = None) -> dict[str, object]:
    out: dict[str, object] = {"tokens": tokens, "token_logprobs": LPS[: len(tokens)]}
    if offsets is not None:
        out["text_offset"] = offsets
    return out


# context "Q: x", continuation " ∃": both halves of the split character are the continuation
SPLIT_IN_CONTINUATION = {
    "openai bytes": lp(["Q", ":", " x", "bytes:\\x20\\xe2\\x88", "bytes:\\x83"], [0, 1, 2, 4, 5]),
    "bytes, no offsets": lp(["Q", ":", " x", "bytes:\\x20\\xe2\\x88", "bytes:\\x83"]),
    "U+FFFD, drifting offsets": lp(["Q", ":", " x", " \ufffd", "\ufffd"], [0, 1, 2, 4, 6]),
    "U+FFFD, no offsets": lp(["Q", ":", " x", " \ufffd", "\ufffd"]),
    "vLLM held-back": lp(["Q", ":", " x", "", " ∃"], [0, 1, 2, 4, 4]),
    "vLLM held-back, no offsets": lp(["Q", ":", " x", "", " ∃"]),
}


@pytest.mark.parametrize("name", list(SPLIT_IN_CONTINUATION))
def test_split_character_in_the_continuation_counts_both_tokens(name: str) -> None:
    got = continuation_logprob(SPLIT_IN_CONTINUATION[name], context="Q: x", continuation=" ∃")
    assert got.logprob == pytest.approx(-12.0)
    assert got.num_tokens == 2


# context "Q: ∃", continuation " A": the split character is the context's end
SPLIT_IN_CONTEXT = {
    "openai bytes": lp(["Q", ":", "bytes:\\x20\\xe2\\x88", "bytes:\\x83", " A"], [0, 1, 2, 3, 4]),
    "U+FFFD, drifting offsets": lp(["Q", ":", " \ufffd", "\ufffd", " A"], [0, 1, 2, 4, 5]),
    "U+FFFD, no offsets": lp(["Q", ":", " \ufffd", "\ufffd", " A"]),
    "vLLM held-back": lp(["Q", ":", "", " ∃", " A"], [0, 1, 2, 2, 4]),
    "vLLM held-back, no offsets": lp(["Q", ":", "", " ∃", " A"]),
    "BOS echoed first": lp(["<s>", "Q", ":", " ∃", " A"], [0, 0, 1, 2, 4]),
}


@pytest.mark.parametrize("name", list(SPLIT_IN_CONTEXT))
def test_split_character_at_the_context_end_stays_in_the_context(name: str) -> None:
    got = continuation_logprob(SPLIT_IN_CONTEXT[name], context="Q: ∃", continuation=" A")
    assert got.logprob == pytest.approx(-8.0)
    assert got.num_tokens == 1


def test_character_straddling_the_boundary_counts_with_the_continuation() -> None:
    # context "Q: \xe2"... is impossible (the context is text), but a token may hold the
    # context's last character and the continuation's first bytes: " x" + "\xe2\x88"
    data = lp(["Q", ":", "bytes:\\x20\\x78\\xe2\\x88", "bytes:\\x83"], [0, 1, 2, 4])
    got = continuation_logprob(data, context="Q: x", continuation="∃")
    assert got.logprob == pytest.approx(-6.0)


def test_hidden_bytes_at_the_boundary_fail_the_sample_instead_of_guessing() -> None:
    # "b\ufffd" may end in "b" or hold the first bytes of the continuation's "∃"
    data = lp(["a", "b\ufffd", "\ufffd"])
    with pytest.raises(ResponseFormatError, match="cannot tell whether echoed token 1"):
        continuation_logprob(data, context="ab", continuation="∃")


def test_echo_that_does_not_spell_the_prompt_is_an_error() -> None:
    with pytest.raises(ResponseFormatError, match="do not spell the prompt"):
        continuation_logprob(lp(["Q", ":", " x"], [0, 1, 2]), context="Q: x", continuation=" y")


def test_token_id_spellings_without_offsets_are_an_error_not_a_number() -> None:
    data = lp(["token_id:48", "token_id:42", "token_id:1009"])
    with pytest.raises(ResponseFormatError):
        continuation_logprob(data, context="Q:", continuation=" x")


def test_generated_token_after_a_split_character_is_ignored() -> None:
    data = lp(["Q", ":", " \ufffd", "\ufffd", " and"], [0, 1, 2, 4, 5])
    got = continuation_logprob(data, context="Q:", continuation=" ∃", generated=1)
    assert got.logprob == pytest.approx(-6.0)


@pytest.mark.parametrize(
    "token, expected",
    [
        ("bytes:\\xe2\\x88", b"\xe2\x88"),
        ("bytes:\\x20", b" "),
        ("bytes: is a word", b"bytes: is a word"),
        ("\u00e9", b"\xc3\xa9"),
        ("", None),
        ("\ufffd", None),
        ("token_id:17", None),
    ],
)
def test_token_spellings(token: str, expected: bytes | None) -> None:
    assert token_bytes(token) == expected


def test_char_of_byte_counts_lead_bytes() -> None:
    prompt = "a∃b".encode()  # a | E2 88 83 | b
    assert [char_of_byte(prompt, i) for i in range(len(prompt) + 1)] == [0, 1, 1, 1, 2, 3]


@pytest.mark.parametrize("text", ["", "plain ascii", "a∃b", "é", "日本語 text 🙂!", "🙂"])
def test_char_index_matches_decoding_each_prefix(text: str) -> None:
    prompt = text.encode()
    at = char_index(prompt)
    for pos in range(len(prompt) + 3):  # past the end counts every character
        # the index of the character whose bytes hold pos (the length of the text past them)
        starts = [len(ch.encode()) for ch in text]
        edge, index = 0, len(text)
        for k, size in enumerate(starts):
            if pos < edge + size:
                index = k
                break
            edge += size
        assert at(pos) == index, (text, pos)


def test_repeated_text_after_hidden_bytes_is_not_placed_by_guess() -> None:
    # after "\ufffd" (1-3 bytes) the token "a" fits at two places: it stays unplaced
    placed = place_tokens(["x", "\ufffd", "a", "a"], "x\xe9aa".encode())
    assert placed[2].span is None and placed[2].lo == 2 and placed[2].hi == 4


def test_held_back_token_straddling_the_boundary_is_an_error() -> None:
    # " " + the first bytes of the flag's first letter, held back by vLLM as "": it may hold
    # only the context's space or also continuation bytes; " 🇫" starts in the context
    data = lp(["Flag", ":", "", " 🇫"], [0, 4, 5, 5])
    with pytest.raises(ResponseFormatError, match="cannot tell whether echoed token 2"):
        continuation_logprob(data, context="Flag: ", continuation="🇫")
