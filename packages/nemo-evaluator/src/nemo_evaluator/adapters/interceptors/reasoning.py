"""Reasoning: strip ``<think> ... </think>`` style reasoning from answers and count it.

Rules (chat ``message.content`` and completion ``text``):

* everything from ``start_reasoning_token`` through ``end_reasoning_token`` is removed;
* an end token without a start token removes everything before it;
* a start token that never ends leaves an empty answer (the model ran out of tokens thinking);
* a ``reasoning_content`` field (servers that split reasoning out themselves) is counted as
  reasoning; with ``drop_reasoning_content`` it is removed from the message.

Counts and sizes go to ``reasoning_stats.json`` under the output directory.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import Field

from nvidia_eval_commons.api._strict import StrictModel

from ..interceptor import AdapterResponse, ChainEnv, Interceptor, RequestContext
from ..log_files import write_json_atomic

STATS_FILE = "reasoning_stats.json"


class ReasoningConfig(StrictModel):
    """Options of the ``reasoning`` interceptor."""

    start_reasoning_token: str | None = "<think>"
    """Token that opens reasoning; ``None`` strips everything up to the end token."""
    end_reasoning_token: str = Field(default="</think>", min_length=1)
    """Token that ends reasoning."""
    drop_reasoning_content: bool = False
    """Remove a ``reasoning_content`` field from chat messages after counting it."""


def strip_reasoning(text: str, start: str | None, end: str) -> tuple[str, str, bool | None]:
    """``(answer, reasoning, finished)``; ``finished`` is None when there was no reasoning."""
    reasoning: list[str] = []
    finished: bool | None = None
    while True:
        e = text.find(end)
        if e == -1:
            break
        s = text.rfind(start, 0, e) if start else -1
        body_from = s + len(start) if (start and s != -1) else 0
        reasoning.append(text[body_from:e])
        text = (text[:s] if s != -1 else "") + text[e + len(end) :]
        finished = True
    if start:
        s = text.find(start)
        if s != -1:  # reasoning that never ended: no answer
            reasoning.append(text[s + len(start) :])
            text = text[:s]
            finished = False
    if finished is None:
        return text, "", None
    return text.strip(), "".join(reasoning), finished


class ReasoningInterceptor(Interceptor):
    """Strips reasoning from every JSON answer on the way down and keeps statistics."""

    name = "reasoning"
    config_model = ReasoningConfig

    def __init__(self, config: ReasoningConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        self.config: ReasoningConfig = config
        self._lock = threading.Lock()
        self._counts = {
            "responses": 0,
            "choices": 0,
            "choices_with_reasoning": 0,
            "reasoning_finished": 0,
            "reasoning_unfinished": 0,
            "reasoning_chars": 0,
            "max_reasoning_chars": 0,
            "answer_chars": 0,
        }

    def _record(self, reasoning: str, finished: bool | None, answer: str) -> None:
        c = self._counts
        c["choices"] += 1
        c["answer_chars"] += len(answer)
        if finished is None and not reasoning:
            return
        c["choices_with_reasoning"] += 1
        c["reasoning_finished" if finished is not False else "reasoning_unfinished"] += 1
        c["reasoning_chars"] += len(reasoning)
        c["max_reasoning_chars"] = max(c["max_reasoning_chars"], len(reasoning))

    def on_response(self, response: AdapterResponse, ctx: RequestContext) -> AdapterResponse:
        if response.stream is not None or response.status_code >= 400:
            return response
        data = response.json_or_none()
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            return response
        cfg = self.config
        changed = False
        records: list[tuple[str, bool | None, str]] = []
        for choice in data["choices"]:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            if isinstance(message, dict):
                text = message.get("content")
                extra = message.get("reasoning_content")
                answer, reasoning, finished = strip_reasoning(
                    text if isinstance(text, str) else "",
                    cfg.start_reasoning_token,
                    cfg.end_reasoning_token,
                )
                if isinstance(extra, str) and extra:
                    reasoning = extra + reasoning
                    finished = True if finished is None else finished
                    if cfg.drop_reasoning_content:
                        del message["reasoning_content"]
                        changed = True
                if finished is not None or text is None:
                    message["content"] = answer
                    changed = True
                records.append((reasoning, finished, answer))
            elif isinstance(choice.get("text"), str):
                answer, reasoning, finished = strip_reasoning(
                    choice["text"], cfg.start_reasoning_token, cfg.end_reasoning_token
                )
                if finished is not None:
                    choice["text"] = answer
                    changed = True
                records.append((reasoning, finished, answer))
        if changed:
            response.mark_dirty()
        with self._lock:
            self._counts["responses"] += 1
            for reasoning, finished, answer in records:
                self._record(reasoning, finished, answer)
        return response

    def stats(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
        with_r = out["choices_with_reasoning"]
        out["avg_reasoning_chars"] = out["reasoning_chars"] / with_r if with_r else 0.0
        return out

    def close(self) -> None:
        write_json_atomic(self.env.output_dir / STATS_FILE, self.stats())
