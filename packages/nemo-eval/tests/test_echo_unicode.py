# ruff: noqa: RUF001  (the prompts hold look-alike characters on purpose)
"""The echo of ``/v1/completions`` against the tokenizer, for any Unicode prompt.

The contract (docs/deploy.md): the tokens spell the prompt's bytes exactly (a token holding
part of a character as ``bytes:\\xNN``), and each ``text_offset`` is the index of the
character that holds the token's first byte.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.model

_BYTES = re.compile(r"bytes:((?:\\x[0-9a-f]{2})+)")


def spelled_bytes(token: str) -> bytes:
    match = _BYTES.fullmatch(token)
    if match:
        return bytes.fromhex(match.group(1).replace("\\x", ""))
    return token.encode()


def echo(url: str, prompt: str | list[int]) -> dict[str, Any]:
    resp = requests.post(
        f"{url}/v1/completions",
        json={"prompt": prompt, "max_tokens": 0, "logprobs": 0, "echo": True},
        timeout=300,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["choices"][0])


def check_echo(choice: dict[str, Any], text: str, ids: list[int], tok: Any) -> None:
    lp = choice["logprobs"]
    tokens, offsets = lp["tokens"], lp["text_offset"]
    assert choice["text"] == text
    assert len(tokens) == len(offsets) == len(lp["token_logprobs"]) == len(ids)
    pieces = [spelled_bytes(t) for t in tokens]
    whole = text.encode()
    assert b"".join(pieces) == whole
    start = 0
    for i, (token, piece, offset) in enumerate(zip(tokens, pieces, offsets, strict=True)):
        # what the tokenizer itself decodes for the first i+1 tokens
        assert tok.decode(ids[: i + 1]) == whole[: start + len(piece)].decode("utf-8", "replace")
        try:
            assert token == piece.decode("utf-8")  # whole characters are spelled as text
        except UnicodeDecodeError:
            assert token.startswith("bytes:")
        assert offset == len(whole[:start].decode("utf-8", "ignore"))  # char of its first byte
        assert 0 <= offset <= len(text)
        start += len(piece)
    assert offsets == sorted(offsets)


# Characters of every kind except lone surrogates, which are not valid text.
unicode_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=unicode_text)
def test_echo_spells_random_unicode_like_the_tokenizer(
    served: Any, reference_model: tuple[Any, Any], text: str
) -> None:
    tok, _ = reference_model
    ids = tok(text)["input_ids"]
    assume(tok.decode(ids) == text)  # the tokenizer round-trips the text
    check_echo(echo(served.url, text), text, ids, tok)


@pytest.mark.parametrize(
    "text",
    [
        "∃",  # one character, three bytes, two tokens
        "a ® b",
        "日本語のテキスト",
        "emoji 👩‍👩‍👧 and 🇫🇷",
        "x\x9dy\x00z\u200b",
        "∃x (P(x) ∨ Q(x)) ⊃ ≡",
    ],
)
def test_echo_of_token_ids_spells_their_bytes(
    served: Any, reference_model: tuple[Any, Any], text: str
) -> None:
    tok, _ = reference_model
    ids = tok(text)["input_ids"]
    choice = echo(served.url, ids)
    check_echo(choice, text, ids, tok)
    if text == "∃":  # U+2203 is split across two tokens by this tokenizer
        assert [t.startswith("bytes:") for t in choice["logprobs"]["tokens"]] == [True, True]
    # a generated token continues the offsets where the prompt's text ends
    resp = requests.post(
        f"{served.url}/v1/completions",
        json={"prompt": text, "max_tokens": 2, "temperature": 0, "logprobs": 1},
        timeout=300,
    )
    lp = resp.json()["choices"][0]["logprobs"]
    assert lp["text_offset"][0] == len(text)
    assert lp["text_offset"] == sorted(lp["text_offset"])
