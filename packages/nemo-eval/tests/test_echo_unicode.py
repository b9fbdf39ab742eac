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


def _scored(url: str, prompts: list[str], **extra: Any) -> list[dict[str, Any]]:
    resp = requests.post(
        f"{url}/v1/completions",
        json={"prompt": prompts, "max_tokens": 0, "logprobs": 1, "echo": True, **extra},
        timeout=300,
    )
    assert resp.status_code == 200, resp.text
    return [c["logprobs"] for c in sorted(resp.json()["choices"], key=lambda c: c["index"])]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(context=unicode_text, continuation=unicode_text)
def test_logprobs_from_a_character_keep_every_token_that_reaches_it(
    served: Any, context: str, continuation: str
) -> None:
    prompts = [context + continuation, context + "∃" + continuation]
    full = _scored(served.url, prompts)
    cut = _scored(served.url, prompts, echo_logprobs_from=[len(context), len(context)])
    for a, b, text in zip(full, cut, prompts, strict=True):
        assert a["tokens"] == b["tokens"] and a["text_offset"] == b["text_offset"]
        boundary = len(context.encode())
        end = 0
        for i, token in enumerate(b["tokens"]):
            end += len(spelled_bytes(token))
            x, y = a["token_logprobs"][i], b["token_logprobs"][i]
            if end > boundary and i > 0:  # a byte of this token lies in the continuation
                assert y is not None and y == pytest.approx(x, abs=1e-4), (text, i, token)
                assert b["top_logprobs"][i] is not None
            else:
                assert y is None or y == pytest.approx(x, abs=1e-4)
        assert len(text) > len(context)


def test_logprobs_from_is_listed_and_checked(served: Any) -> None:
    models = requests.get(f"{served.url}/v1/models", timeout=30).json()["data"]
    assert "echo_logprobs_from" in models[0]["capabilities"]
    for bad in (-1, "3", [1, 2], True, 1.5):
        resp = requests.post(
            f"{served.url}/v1/completions",
            json={"prompt": "a b", "max_tokens": 0, "echo": True, "echo_logprobs_from": bad},
            timeout=60,
        )
        assert resp.status_code == 400, bad
        assert "echo_logprobs_from" in resp.text
    one = _scored(served.url, ["Question: 2+2?\nAnswer: 4"], echo_logprobs_from=22)[0]
    assert one["token_logprobs"][1] is None and one["token_logprobs"][-1] is not None
