"""The OpenAI-compatible HTTP API (Flask), shared by every serving backend.

Routes (each also with a trailing slash): ``POST /v1/completions``, ``POST /v1/chat/completions``,
``GET /v1/models``, ``GET /v1/health``. Text handling (tokenizing, chat template, log-probability
layout) happens here; generation goes to ``submit``, which the serving backend provides.

The completions ``logprobs`` object follows the legacy OpenAI layout that lm-evaluation-harness's
``local-completions`` model reads: ``tokens``, ``token_logprobs`` (the first prompt token's is
``null`` under ``echo``), ``top_logprobs`` (token -> logprob maps) and ``text_offset``.

One extension, listed as a capability in ``GET /v1/models``: ``echo_logprobs_from`` (a
character offset into the prompt, or one per prompt) asks for the log-probabilities of the
echoed tokens from that character on only; the tokens wholly before it get ``null``. A
scoring client that needs only the continuation's tokens sets it to the context's length,
and the engine skips the output layer over the context (a fifth of an MMLU question's work).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from .engines.base import Engine, GenerateRequest, GenerateResult
from .engines.token_bytes import char_offsets, token_string
from .errors import RequestError

log = logging.getLogger(__name__)

Submit = Callable[[list[GenerateRequest]], list[GenerateResult]]
MAX_TOP_LOGPROBS = 20
CAPABILITIES = ("echo_logprobs_from",)


def _byte_of_char(data: bytes, index: int) -> int:
    """Where character ``index`` of UTF-8 ``data`` begins (characters counted by their lead
    bytes, as ``text_offset`` counts them); ``len(data)`` past the end."""
    chars = 0
    for i, byte in enumerate(data):
        if byte & 0xC0 != 0x80:
            if chars == index:
                return i
            chars += 1
    return len(data)


def _number(body: dict[str, Any], key: str, default: float, *, lo: float, hi: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise RequestError(f"'{key}' must be a number between {lo} and {hi}", param=key)
    return float(value)


def _int(body: dict[str, Any], key: str, default: int | None, *, lo: int, hi: int) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(f"'{key}' must be an integer between {lo} and {hi}", param=key)
    return value


def _stop(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return [s for s in stop if s]
    raise RequestError("'stop' must be a string or a list of strings", param="stop")


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    if body.get("stream"):
        raise RequestError("streaming is not supported: send 'stream': false", param="stream")
    if body.get("n", 1) != 1:
        raise RequestError("only n=1 is supported", param="n")
    return body


class OpenAiApi:
    """Builds the Flask app around a text-side engine and a submit function."""

    def __init__(
        self, *, text: Engine, submit: Submit, model_name: str, max_input_len: int
    ) -> None:
        self.text = text
        self.submit = submit
        self.model_name = model_name
        self.max_input_len = max_input_len
        self.created = int(time.time())

    # -- request parsing ----------------------------------------------------------------

    def _prompts(self, raw: Any) -> list[tuple[list[int], str | None]]:
        """Each prompt's token ids, with its text when it was given as text."""
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            raise RequestError(
                "'prompt' must be a string, a list of strings or token ids", param="prompt"
            )
        if all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
            raw = [raw]
        prompts: list[tuple[list[int], str | None]] = []
        for item in raw:
            if isinstance(item, str):
                prompts.append((self.text.tokenize(item), item))
            elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
                prompts.append((list(item), None))
            else:
                raise RequestError(
                    "each prompt must be a non-empty string or list of token ids", param="prompt"
                )
        for ids, _text in prompts:
            self._check_length(ids, "prompt")
        return prompts

    def _check_length(self, ids: list[int], param: str) -> None:
        if not ids:
            raise RequestError("the prompt is empty", param=param)
        if len(ids) > self.max_input_len:
            raise RequestError(
                f"the prompt has {len(ids)} tokens, more than max_input_len={self.max_input_len} "
                "of this deployment: shorten it or redeploy with a larger max_input_len",
                param=param,
            )

    def _sampling(
        self, body: dict[str, Any], *, max_tokens_key: str = "max_tokens"
    ) -> dict[str, Any]:
        max_tokens = _int(body, max_tokens_key, None, lo=0, hi=1 << 20)
        if max_tokens is None:
            max_tokens = _int(body, "max_completion_tokens", 16, lo=0, hi=1 << 20)
        return {
            "max_tokens": max_tokens,
            "temperature": _number(body, "temperature", 1.0, lo=0.0, hi=2.0),
            "top_p": _number(body, "top_p", 1.0, lo=0.0, hi=1.0),
            "seed": _int(body, "seed", None, lo=-(1 << 63), hi=(1 << 63) - 1),
            "stop": _stop(body),
        }

    # -- handlers -----------------------------------------------------------------------

    def completions(self) -> dict[str, Any]:
        body = _json_body()
        prompts = self._prompts(body.get("prompt"))
        logprobs = _int(body, "logprobs", None, lo=0, hi=MAX_TOP_LOGPROBS)
        echo = bool(body.get("echo", False))
        params = self._sampling(body)
        starts = self._logprobs_from(body, prompts) if echo else [0] * len(prompts)
        reqs = [
            GenerateRequest(prompt_ids=p, logprobs=logprobs, echo=echo, logprobs_from=s, **params)
            for (p, _text), s in zip(prompts, starts, strict=True)
        ]
        results = self.submit(reqs)
        choices, prompt_tokens, completion_tokens = [], 0, 0
        for index, (req, res) in enumerate(zip(reqs, results, strict=False)):
            prompt_tokens += len(req.prompt_ids)
            completion_tokens += len(res.token_ids) + (res.stop_token is not None)
            prompt_text = self.text.detokenize(req.prompt_ids) if echo else ""
            choices.append(
                {
                    "index": index,
                    "text": prompt_text + res.text,
                    "logprobs": self._completion_logprobs(req, res)
                    if logprobs is not None
                    else None,
                    "finish_reason": res.finish_reason,
                }
            )
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _logprobs_from(
        self, body: dict[str, Any], prompts: list[tuple[list[int], str | None]]
    ) -> list[int]:
        """Per prompt, the first token whose log-probability ``echo_logprobs_from`` asks for
        (0: all): the first token holding a byte of the offset's character or of one after
        it, and one token more before it."""
        raw = body.get("echo_logprobs_from")
        if raw is None:
            return [0] * len(prompts)
        chars = raw if isinstance(raw, list) else [raw] * len(prompts)
        if len(chars) != len(prompts) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in chars
        ):
            raise RequestError(
                "'echo_logprobs_from' must be a character offset (an integer >= 0) or a list "
                "of them, one per prompt",
                param="echo_logprobs_from",
            )
        starts = []
        for (ids, text), at in zip(prompts, chars, strict=True):
            pieces = self.text.token_bytes(ids)
            spelled = b"".join(pieces)
            if text is not None and spelled != text.encode("utf-8", "surrogatepass"):
                starts.append(0)  # the tokens do not spell the text: offsets would not match
                continue
            ends = list(itertools.accumulate(len(p) for p in pieces))
            first = bisect.bisect_right(ends, _byte_of_char(spelled, at))
            starts.append(max(0, first - 1))
        return starts

    def _completion_logprobs(self, req: GenerateRequest, res: GenerateResult) -> dict[str, Any]:
        """The legacy ``logprobs`` object; tokens and offsets follow docs/deploy.md's contract."""
        generated = res.token_ids if res.stop_token is None else [*res.token_ids, res.stop_token]
        token_logprobs: list[float | None] = list(res.token_logprobs or [])
        top: list[dict[str, float] | None] = list(res.top_logprobs or [])
        prompt_pieces = self.text.token_bytes(req.prompt_ids)
        # generated tokens are split in the context of the prompt, so a character begun in
        # the prompt's last token and finished by a generated one is placed right
        pieces = self.text.token_bytes([*req.prompt_ids, *generated])[len(prompt_pieces) :]
        start = len(b"".join(prompt_pieces).decode("utf-8", errors="replace"))
        if req.echo:
            pieces = prompt_pieces + pieces
            token_logprobs = list(res.prompt_logprobs or []) + token_logprobs
            top = list(res.prompt_top_logprobs or []) + top
            start = 0
        return {
            "tokens": [token_string(p) for p in pieces],
            "token_logprobs": token_logprobs,
            "top_logprobs": top,
            "text_offset": char_offsets(pieces, start=start),
        }

    def chat(self) -> dict[str, Any]:
        body = _json_body()
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("'messages' must be a non-empty list", param="messages")
        clean: list[dict[str, Any]] = []
        for msg in messages:
            if not isinstance(msg, dict) or msg.get("role") not in {
                "system",
                "user",
                "assistant",
                "developer",
                "tool",
            }:
                raise RequestError(
                    "each message needs a 'role' of system, user or assistant", param="messages"
                )
            content = msg.get("content") or ""
            if isinstance(content, list):
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            if not isinstance(content, str):
                raise RequestError("a message's 'content' must be a string", param="messages")
            role = "system" if msg["role"] == "developer" else msg["role"]
            clean.append({"role": role, "content": content})
        want_logprobs = bool(body.get("logprobs", False))
        top_k = _int(body, "top_logprobs", 0, lo=0, hi=MAX_TOP_LOGPROBS) if want_logprobs else None
        ids = self.text.tokenize(self.text.chat_prompt(clean), special=False)
        self._check_length(ids, "messages")
        req = GenerateRequest(prompt_ids=ids, logprobs=top_k, **self._sampling(body))
        res = self.submit([req])[0]
        logprobs = None
        if want_logprobs:
            pieces = self.text.token_bytes(res.token_ids)
            logprobs = {
                "content": [
                    {
                        "token": token_string(piece),
                        "logprob": lp,
                        "bytes": list(piece),
                        "top_logprobs": [
                            {"token": t, "logprob": v, "bytes": list(t.encode())}
                            for t, v in top.items()
                        ],
                    }
                    for piece, lp, top in zip(
                        pieces, res.token_logprobs or [], res.top_logprobs or [], strict=False
                    )
                ]
            }
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": res.text},
                    "logprobs": logprobs,
                    "finish_reason": res.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": len(ids),
                "completion_tokens": len(res.token_ids),
                "total_tokens": len(ids) + len(res.token_ids),
            },
        }

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.model_name,
                    "object": "model",
                    "created": self.created,
                    "owned_by": "nemo-eval",
                    "capabilities": list(CAPABILITIES),
                }
            ],
        }

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": self.model_name}

    # -- app ----------------------------------------------------------------------------

    def create_app(self) -> Flask:
        app = Flask("nemo_eval")
        app.json.sort_keys = False  # type: ignore[attr-defined]
        routes: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
            ("/v1/completions", self.completions, "POST"),
            ("/v1/chat/completions", self.chat, "POST"),
            ("/v1/models", self.models, "GET"),
            ("/v1/health", self.health, "GET"),
            ("/health", self.health, "GET"),
        ]
        for path, handler, method in routes:
            app.add_url_rule(path, path, handler, methods=[method], strict_slashes=False)

        @app.errorhandler(RequestError)
        def _request_error(exc: RequestError) -> Any:
            return jsonify(exc.to_json()), exc.status

        @app.errorhandler(HTTPException)
        def _http_error(exc: HTTPException) -> Any:
            err = RequestError(
                f"{exc.name}: {request.method} {request.path}",
                status=exc.code or 500,
                error_type="not_found_error" if exc.code == 404 else "invalid_request_error",
            )
            return jsonify(err.to_json()), err.status

        @app.errorhandler(Exception)
        def _server_error(exc: Exception) -> Any:
            log.exception("request failed")
            err = RequestError(
                f"internal error: {type(exc).__name__}: {exc}",
                status=500,
                error_type="server_error",
            )
            return jsonify(err.to_json()), 500

        return app
