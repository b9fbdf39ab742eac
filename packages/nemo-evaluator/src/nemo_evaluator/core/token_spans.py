"""Where each echoed token lies in the prompt, in bytes, whatever the server's spelling.

Servers spell a token that holds part of a UTF-8 character in different ways: as
``bytes:\\xe2\\x80`` (OpenAI, our own server), as U+FFFD (a server that decodes each token
alone), or as ``""`` with the whole character on the token that completes it (vLLM's
incremental detokenizer). Character offsets and token lengths do not add up in the last two,
so tokens are placed by their bytes instead:

- A token whose bytes are known (its text, or its ``bytes:`` spelling) is placed where those
  bytes occur in the prompt, searched from where the previous token could have ended; it
  gets a byte span only when exactly one place fits.
- A token whose bytes are unknown (U+FFFD, ``token_id:N``) gets no span, only the range of
  bytes it may cover, which keeps the search for the next token bounded.
- A first token that is not in the prompt (``<s>``, a BOS token) takes no room.
- A ``""`` token takes no room: vLLM spells a token that ends inside a character as ``""``
  and gives its bytes to the token that completes the character, which is placed with them.

``text_offset`` is used only where it agrees with every placed token (then it is trusted to
decide the unplaced ones); a server whose offsets drift is placed from its tokens alone.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_BYTES = re.compile(r"bytes:((?:\\x[0-9a-fA-F]{2})+)")
# An unknown token holds at least one byte; a part of a character holds at most three.
_MAX_PARTIAL = 3


@dataclass(frozen=True)
class Placed:
    """One echoed token: its byte span when placed, else the bounds of where it starts."""

    span: tuple[int, int] | None
    lo: int
    """The earliest byte the token can start at."""
    hi: int
    """The latest byte the token can start at."""


def token_bytes(token: str) -> bytes | None:
    """The bytes a token spelling stands for; None when the spelling hides them."""
    match = _BYTES.fullmatch(token)
    if match:
        return bytes.fromhex(match.group(1).replace("\\x", ""))
    if not token or "\ufffd" in token or token.startswith("token_id:"):
        return None
    return token.encode()


def _size_bounds(token: str) -> tuple[int, int]:
    """Fewest and most bytes a token with hidden bytes moves the next token by."""
    if not token:
        return 0, 0  # vLLM holds a partial character back for the token that completes it
    if token.startswith("token_id:"):
        return 1, 64
    hidden = token.count("\ufffd")
    known = len(token.replace("\ufffd", "").encode())
    return known + hidden, known + hidden * _MAX_PARTIAL


def place_tokens(tokens: Sequence[str], prompt: bytes) -> list[Placed]:
    """Place every token of an echo of ``prompt`` (tokens past its end start at ``len(prompt)``)."""
    placed: list[Placed] = []
    lo = hi = 0
    for tok in tokens:
        data = token_bytes(tok)
        span = None
        if data is not None:
            if lo >= len(prompt):
                span = (lo, lo + len(data)) if lo == hi else None
            else:
                if lo == hi:  # the common case: the previous token was placed
                    fits = [lo] if prompt.startswith(data, lo) else []
                else:
                    last = min(hi, len(prompt) - 1)
                    fits = [s for s in range(lo, last + 1) if prompt.startswith(data, s)]
                if len(fits) == 1:
                    span = (fits[0], fits[0] + len(data))
        placed.append(Placed(span=span, lo=lo, hi=hi))
        if span is None and len(placed) == 1:
            continue  # a first token not in the text (a BOS the server echoes) takes no room
        if span is not None:
            lo = hi = span[1]
        elif data is not None:  # spelled in a way that does not fit here: size unknown
            lo, hi = lo + 1, hi + _MAX_PARTIAL * len(data) + _MAX_PARTIAL
        else:
            fewest, most = _size_bounds(tok)
            lo, hi = lo + fewest, hi + most
    return placed


def char_of_byte(prompt: bytes, pos: int) -> int:
    """Index of the character holding byte ``pos`` (``len`` in characters at the end)."""
    return char_index(prompt)(pos)


def char_index(prompt: bytes) -> Callable[[int], int]:
    """:func:`char_of_byte` for every ``pos`` of ``prompt``, each in constant time."""
    size = len(prompt)
    if prompt.isascii():
        return lambda pos: min(pos, size)
    lead = [b & 0xC0 != 0x80 for b in prompt]
    before = list(itertools.accumulate(lead, initial=0))  # lead bytes before each position

    def at(pos: int) -> int:
        pos = min(pos, size)
        return before[pos] - (pos < size and not lead[pos])

    return at


def trusted_offsets(
    text_offset: object, placed: Sequence[Placed], prompt: bytes
) -> list[int] | None:
    """``text_offset`` relative to its first entry, when it agrees with every placed token."""
    if not isinstance(text_offset, list) or len(text_offset) != len(placed):
        return None
    if not all(isinstance(o, int) and not isinstance(o, bool) for o in text_offset):
        return None
    offsets = [o - text_offset[0] for o in text_offset]
    if any(b < a for a, b in itertools.pairwise(offsets)):
        return None
    char_at = char_index(prompt)
    for off, p in zip(offsets, placed, strict=True):
        placed_in_prompt = p.span is not None and p.span[0] < len(prompt)
        if placed_in_prompt and off != char_at(p.span[0]):  # type: ignore[index]
            return None
    return offsets
