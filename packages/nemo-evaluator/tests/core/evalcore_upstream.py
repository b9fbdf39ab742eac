"""A loopback OpenAI-compatible upstream (Flask + waitress) whose answers the tests control.

* completions / chat: answers gsm8k questions it knows from ``answers`` (question -> text),
  ``#### 0`` otherwise; text after the answer includes a stop sequence to test truncation.
* completions with ``echo``: tokens are ``\\s*\\S+`` pieces of the prompt, each with log-prob
  ``-0.1 * len(token)`` and itself as the only top alternative, so the most probable
  continuation is the shortest; the first token has ``None``.
* faults: ``fail_status`` answers every generation with that status, ``fail_marker`` only
  prompts containing the marker; ``garbage`` answers 200 with a non-JSON body;
  ``reject_max_tokens_zero`` answers 400 to ``max_tokens: 0``; ``latency_s`` sleeps first.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from typing import Any

import flask
from waitress.server import create_server

_TOKEN = re.compile(r"\s*\S+|\s+$")


def token_logprob(token: str) -> float:
    return -0.1 * len(token)


def echo_logprobs(prompt: str) -> dict[str, Any]:
    tokens = _TOKEN.findall(prompt)
    offsets, pos = [], 0
    for tok in tokens:
        offsets.append(pos)
        pos += len(tok)
    lps: list[float | None] = [token_logprob(t) for t in tokens]
    lps[0] = None
    top = [None] + [{t: token_logprob(t)} for t in tokens[1:]]
    return {"tokens": tokens, "token_logprobs": lps, "text_offset": offsets, "top_logprobs": top}


class Upstream:
    def __init__(self, *, threads: int = 16) -> None:
        self.answers: dict[str, str] = {}
        self.latency_s = 0.0
        self.fail_status: int | None = None
        self.fail_marker: str | None = None
        self.garbage = False
        self.reject_max_tokens_zero = False
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = self._make_app()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = create_server(self.app, host="127.0.0.1", port=self.port, threads=threads)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answer(self, text: str) -> str:
        for question, answer in self.answers.items():
            if question in text:
                return answer
        return " I do not know.\n#### 0"

    def _make_app(self) -> flask.Flask:
        app = flask.Flask("evalcore-upstream")
        app.url_map.strict_slashes = False

        @app.get("/v1/models")
        def models() -> Any:
            return {"object": "list", "data": [{"id": "stub-model", "object": "model"}]}

        @app.post("/v1/completions")
        @app.post("/v1/chat/completions")
        def complete() -> Any:
            body = flask.request.get_json(force=True)
            with self._lock:
                self.requests.append(body)
            if self.latency_s:
                time.sleep(self.latency_s)
            text = json.dumps(body)
            if self.garbage:
                return flask.Response("<html>oops</html>", status=200, mimetype="text/html")
            if self.fail_status is not None or (self.fail_marker and self.fail_marker in text):
                status = self.fail_status or 500
                return flask.Response(
                    json.dumps({"error": {"message": f"stub failure {status}"}}),
                    status=status,
                    mimetype="application/json",
                )
            usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            if "messages" in body:
                content = self._answer(body["messages"][-1]["content"])
                return {
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
            if body.get("echo"):
                if self.reject_max_tokens_zero and body.get("max_tokens") == 0:
                    return flask.Response(
                        '{"error": "max_tokens must be at least 1"}',
                        status=400,
                        mimetype="application/json",
                    )
                choices = []
                for i, p in enumerate(prompts):
                    lp = echo_logprobs(p)
                    if body.get("max_tokens", 0) >= 1:  # one generated token after the prompt
                        lp["tokens"].append(" X")
                        lp["token_logprobs"].append(-9.0)
                        lp["text_offset"].append(len(p))
                        lp["top_logprobs"].append({" X": -9.0})
                    choices.append(
                        {"index": i, "text": p, "logprobs": lp, "finish_reason": "length"}
                    )
                return {"object": "text_completion", "choices": choices, "usage": usage}
            return {
                "object": "text_completion",
                "choices": [
                    {"index": 0, "text": self._answer(prompts[0]), "finish_reason": "stop"}
                ],
                "usage": usage,
            }

        return app

    def start(self) -> Upstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.close()
        self.thread.join(timeout=5)
