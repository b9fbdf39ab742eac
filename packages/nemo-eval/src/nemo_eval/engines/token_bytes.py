"""The exact bytes of each token, and how the OpenAI layout spells and places them.

Byte-level tokenizers (GPT-2, Llama 3, Qwen, SmolLM) split a multi-byte UTF-8 character
across tokens; decoding such a token alone gives U+FFFD, whose length is not the number of
characters the token covers. Offsets built from those decoded pieces drift, and a client that
finds the continuation by character offsets scores the wrong tokens. So the server works in
bytes: each token's bytes come from the vocabulary (the byte-level alphabet, or SentencePiece's
``<0xNN>`` byte-fallback pieces), checked against a decode of the whole sequence.

The OpenAI layout then follows (the contract in docs/deploy.md):

- a token whose bytes are whole UTF-8 characters is spelled as its text; a token that holds
  part of a character is spelled ``bytes:\\xNN...`` (one ``\\xNN`` per byte), as OpenAI's
  legacy completions API does;
- ``text_offset`` is the index, in characters of the echoed text, of the character holding
  the token's first byte; offsets never decrease.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

Detokenize = Callable[[list[int]], str]


def _byte_level_table() -> dict[str, int]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {char: byte for byte, char in bytes_to_unicode().items()}  # type: ignore[no-untyped-call]


def _decoder_kind(tokenizer: Any) -> str | None:
    """``byte_level``, ``byte_fallback`` (SentencePiece) or None for other decoders."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        decoder = json.loads(backend.to_str()).get("decoder") or {}
    except (AttributeError, TypeError, ValueError):
        return None
    parts = decoder.get("decoders") or [decoder]
    kinds = {p.get("type") for p in parts if isinstance(p, dict)}
    if "ByteLevel" in kinds:
        return "byte_level"
    if "ByteFallback" in kinds:
        return "byte_fallback"
    return None


class TokenBytes:
    """Per-token bytes from a transformers tokenizer's vocabulary (no decoding involved)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.kind = _decoder_kind(tokenizer)
        self._table = _byte_level_table() if self.kind == "byte_level" else {}
        added = getattr(tokenizer, "added_tokens_decoder", None) or {}
        self._added = {int(i): str(getattr(t, "content", t)).encode() for i, t in added.items()}
        self._cache: dict[int, bytes] = {}

    def _one(self, token_id: int, piece: str | None) -> bytes | None:
        if token_id in self._added:
            return self._added[token_id]
        if piece is None:
            return None
        if self.kind == "byte_level":
            try:
                return bytes(self._table[c] for c in piece)
            except KeyError:
                return None
        if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode()

    def of(self, ids: Sequence[int]) -> list[bytes] | None:
        """Each id's bytes, or None when the vocabulary does not spell them."""
        if self.kind is None:
            return None
        missing = [i for i in dict.fromkeys(ids) if i not in self._cache]
        if missing:
            pieces = self._tokenizer.convert_ids_to_tokens(missing)
            for token_id, piece in zip(missing, pieces, strict=True):
                found = self._one(token_id, piece)
                if found is None:
                    return None
                self._cache[token_id] = found
        return [self._cache[i] for i in ids]


def _incremental(ids: list[int], detokenize: Detokenize) -> list[bytes]:
    """Pieces from decoding growing prefixes (any tokenizer; quadratic, used as a fallback).

    A token that ends inside a character gets no bytes; the token that completes the
    character gets all of it, as vLLM's incremental detokenizer reports tokens.
    """
    pieces: list[bytes] = []
    done = b""
    for i in range(len(ids)):
        text = detokenize(ids[: i + 1])
        if i < len(ids) - 1:
            text = text.rstrip("\ufffd")
        now = text.encode()
        if now.startswith(done):
            pieces.append(now[len(done) :])
            done = now
        else:  # the decoder rewrote earlier text (cleanup rules): attach it here
            pieces.append(b"")
    if pieces:
        full = detokenize(ids).encode()
        pieces[-1] += full[len(done) :] if full.startswith(done) else b""
    return pieces


def split_bytes(ids: list[int], *, vocab: TokenBytes | None, detokenize: Detokenize) -> list[bytes]:
    """The bytes of each token of ``ids``; together they spell ``detokenize(ids)``."""
    if not ids:
        return []
    pieces = vocab.of(ids) if vocab is not None else None
    if pieces is not None:
        joined = b"".join(pieces)
        if joined.decode("utf-8", errors="replace") == detokenize(ids):
            return pieces
    return _incremental(ids, detokenize)


def token_string(piece: bytes) -> str:
    """The token as text, or ``bytes:\\xNN...`` when it is not whole UTF-8 characters."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes:" + "".join(f"\\x{b:02x}" for b in piece)
    return text


def char_offsets(pieces: Sequence[bytes], *, start: int = 0) -> list[int]:
    """For each piece, the index of the character that holds its first byte.

    Characters are counted by their lead bytes (every byte that is not ``0b10xxxxxx``); a
    piece that starts with a continuation byte lies in the character begun before it.
    """
    offsets: list[int] = []
    chars = start
    for piece in pieces:
        if piece and piece[0] & 0xC0 == 0x80 and chars > start:
            offsets.append(chars - 1)
        else:
            offsets.append(chars)
        chars += sum(1 for b in piece if b & 0xC0 != 0x80)
    return offsets
