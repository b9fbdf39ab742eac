"""Deterministic OpenAI-shaped answers for the stub upstream (chat, completions, streaming).

Tokens are whitespace-led words (``re.findall(r"\\s*\\S+")``); each token's log-probability is
a fixed function of its text, so tests can compute expected values.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

Reply = Callable[[str, dict[str, Any]], str]
_TOKEN = re.compile(r"\s*\S+|\s+$")


def tokenize(text: str) -> list[str]:
    """The stub's tokens: each word with the whitespace before it."""
    return _TOKEN.findall(text)


def token_logprob(token: str) -> float:
    """A deterministic log-probability in (-2, -0.1]."""
    return -0.1 - (sum(map(ord, token)) % 19) / 10.0


def default_reply(prompt: str, payload: dict[str, Any]) -> str:
    """``Echo: <last 60 chars of the prompt>``."""
    return "Echo: " + prompt.strip()[-60:]


def _limit(text: str, payload: dict[str, Any]) -> tuple[str, str]:
    """Apply ``stop`` and ``max_tokens``; returns ``(text, finish_reason)``."""
    stops = payload.get("stop") or []
    if isinstance(stops, str):
        stops = [stops]
    for stop in stops:
        if stop and stop in text:
            text = text[: text.index(stop)]
    max_tokens = payload.get("max_tokens", payload.get("max_completion_tokens"))
    if isinstance(max_tokens, int):
        toks = tokenize(text)
        if len(toks) > max_tokens:
            return "".join(toks[:max_tokens]), "length"
    return text, "stop"


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _message_text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def chat_completion(payload: dict[str, Any], *, model: str, reply: Reply) -> dict[str, Any]:
    messages = payload.get("messages") or []
    last_user = next(
        (_message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        "",
    )
    prompt_tokens = sum(len(tokenize(_message_text(m.get("content")))) for m in messages)
    choices = []
    completion_tokens = 0
    for i in range(int(payload.get("n") or 1)):
        text, finish = _limit(reply(last_user, payload), payload)
        completion_tokens += len(tokenize(text))
        choices.append(
            {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
                "logprobs": None,
            }
        )
    return {
        "id": f"chatcmpl-stub-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": payload.get("model") or model,
        "choices": choices,
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def _prompts(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw):
        return [" ".join(map(str, raw))]  # one prompt of token ids
    if isinstance(raw, list):
        return [p if isinstance(p, str) else " ".join(map(str, p)) for p in raw]
    return [""]


def _logprobs(tokens: list[str], *, start: int, top: int, offset0: int) -> dict[str, Any]:
    offsets, pos = [], offset0
    for tok in tokens:
        offsets.append(pos)
        pos += len(tok)
    lps: list[float | None] = [token_logprob(t) for t in tokens]
    tops: list[dict[str, float] | None] = [
        {t: token_logprob(t), **{f" alt{k}": token_logprob(t) - 1.0 - k for k in range(1, top)}}
        for t in tokens
    ]
    if start == 0 and tokens:  # the first token of an echoed prompt has no logprob
        lps[0] = None
        tops[0] = None
    return {
        "tokens": tokens,
        "token_logprobs": lps,
        "top_logprobs": tops if top > 0 else None,
        "text_offset": offsets,
    }


def completion(payload: dict[str, Any], *, model: str, reply: Reply) -> dict[str, Any]:
    """A ``text_completion``; ``echo`` and ``logprobs`` shaped as the OpenAI API returns them."""
    echo = bool(payload.get("echo"))
    want_logprobs = payload.get("logprobs")
    top = int(want_logprobs) if isinstance(want_logprobs, int) else 0
    choices = []
    prompt_tokens = completion_tokens = 0
    n = int(payload.get("n") or 1)
    for p_index, prompt in enumerate(_prompts(payload.get("prompt"))):
        p_toks = tokenize(prompt)
        prompt_tokens += len(p_toks)
        for j in range(n):
            if payload.get("max_tokens") == 0:
                text, finish = "", "length"
            else:
                text, finish = _limit(reply(prompt, payload), payload)
            c_toks = tokenize(text)
            completion_tokens += len(c_toks)
            choice: dict[str, Any] = {
                "index": p_index * n + j,
                "text": prompt + text if echo else text,
                "finish_reason": finish,
                "logprobs": None,
            }
            if want_logprobs is not None:
                toks = p_toks + c_toks if echo else c_toks
                choice["logprobs"] = _logprobs(
                    toks,
                    start=0 if echo else len(p_toks),
                    top=top,
                    offset0=0 if echo else len(prompt),
                )
            choices.append(choice)
    return {
        "id": f"cmpl-stub-{time.monotonic_ns()}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": payload.get("model") or model,
        "choices": choices,
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def sse_stream(full: dict[str, Any], *, chat: bool, delay_s: float) -> Iterator[bytes]:
    """The answer ``full`` as server-sent events, one token per event, then ``[DONE]``."""
    base = {k: full[k] for k in ("id", "created", "model")}
    obj = "chat.completion.chunk" if chat else "text_completion"
    for choice in full["choices"]:
        text = choice["message"]["content"] if chat else choice["text"]
        if chat:
            first = {
                "index": choice["index"],
                "delta": {"role": "assistant"},
                "finish_reason": None,
            }
            yield (
                b"data: "
                + json.dumps({**base, "object": obj, "choices": [first]}).encode()
                + b"\n\n"
            )
        for tok in tokenize(text):
            if delay_s:
                time.sleep(delay_s)
            part = (
                {"index": choice["index"], "delta": {"content": tok}, "finish_reason": None}
                if chat
                else {"index": choice["index"], "text": tok, "finish_reason": None}
            )
            yield (
                b"data: "
                + json.dumps({**base, "object": obj, "choices": [part]}).encode()
                + b"\n\n"
            )
        end = (
            {"index": choice["index"], "delta": {}, "finish_reason": choice["finish_reason"]}
            if chat
            else {"index": choice["index"], "text": "", "finish_reason": choice["finish_reason"]}
        )
        yield b"data: " + json.dumps({**base, "object": obj, "choices": [end]}).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"
