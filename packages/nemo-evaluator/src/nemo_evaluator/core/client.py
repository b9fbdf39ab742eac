"""The one client layer between benchmarks and the endpoint.

It turns a benchmark's requests into OpenAI-compatible payloads, sends them through a
transport (the adapter pipeline in client mode, or HTTP to the adapter server in server mode),
and parses the answers. Upstream retries and timeouts live in the adapter pipeline (built with
``params.max_retries`` and ``params.request_timeout``); this layer adds retries with backoff for
bodies it cannot interpret (garbage from a flaky server) and for transport exceptions.

The client is asynchronous: the runner awaits :meth:`ModelClient.arun` for up to
``params.parallelism`` documents at once on one event loop. A transport with an ``asend``
coroutine (the adapter pipeline in client mode) is awaited directly; a plain ``send`` (HTTP to
the adapter server in server mode) runs in the loop's worker threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..benchmarks.base import (
    GenerationOutput,
    GenerationRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    Output,
    Request,
)
from .errors import EvaluationConfigError, ResponseFormatError, SampleFailedError
from .loglikelihood import continuation_logprob

# OpenAI's API accepts at most four stop sequences; the rest are applied on our side.
_MAX_API_STOPS = 4
_BODY_SNIPPET = 300


class TransportResponse(Protocol):
    status_code: int
    content: bytes
    cache_hit: bool
    latency_s: float
    attempts: int

    def json(self) -> Any: ...


class Transport(Protocol):
    def send(self, payload: dict[str, Any]) -> TransportResponse: ...


class AsyncTransport(Protocol):
    async def asend(self, payload: dict[str, Any]) -> TransportResponse: ...


@dataclass
class DocOutcome:
    """What the requests of one document produced."""

    outputs: list[Output]
    raw: list[Any]
    """Per request: the generated text, or ``[logprob, is_greedy]``."""
    cache_hit: bool = True
    latency_s: float = 0.0
    attempts: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    deadline: float | None = None
    """``time.monotonic()`` by which the document must be done (``params.sample_timeout``)."""


def _snippet(content: bytes) -> str:
    text = content.decode("utf-8", errors="replace").replace("\n", " ")
    return text[:_BODY_SNIPPET] + ("..." if len(text) > _BODY_SNIPPET else "")


def apply_stops(text: str, stops: Sequence[str]) -> str:
    """Cut ``text`` at the earliest stop sequence (servers may ignore stops past four)."""
    cut = len(text)
    for stop in stops:
        if stop:
            pos = text.find(stop)
            if pos != -1:
                cut = min(cut, pos)
    return text[:cut]


class ModelClient:
    """Sends a document's requests and returns its outputs; see the module docstring."""

    def __init__(
        self,
        transport: Transport | AsyncTransport,
        *,
        endpoint_type: str,
        model_id: str | None,
        max_retries: int = 5,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        loglikelihood_batch_size: int = 16,
        backoff_s: float = 0.5,
        sample_timeout: float | None = None,
        echo_logprobs_from: bool = False,
    ) -> None:
        self.transport = transport
        # the server scores only the continuation's tokens when told where it starts
        # (nemo-eval's extension; sent only to a server that lists it)
        self.echo_logprobs_from = echo_logprobs_from
        self.endpoint_type = endpoint_type
        self.model_id = model_id
        self.max_retries = max_retries
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.loglikelihood_batch_size = max(1, loglikelihood_batch_size)
        self.backoff_s = backoff_s
        self.sample_timeout = sample_timeout
        self._echo_max_tokens = 0
        self._lock = threading.Lock()

    # -- payloads --------------------------------------------------------------------------

    def generation_payload(self, req: GenerationRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model_id}
        if self.endpoint_type == "chat":
            if req.messages is not None:
                payload["messages"] = [dict(m) for m in req.messages]
            else:
                payload["messages"] = [{"role": "user", "content": req.prompt or ""}]
        else:
            if req.prompt is None:
                raise EvaluationConfigError(
                    "this benchmark sends chat messages; use a chat endpoint "
                    "(--endpoint-type chat or a /v1/chat/completions URL)"
                )
            payload["prompt"] = req.prompt
        payload["max_tokens"] = req.max_tokens
        payload["temperature"] = (
            self.temperature if self.temperature is not None else req.temperature
        )
        top_p = self.top_p if self.top_p is not None else req.top_p
        if top_p is not None:
            payload["top_p"] = top_p
        seed = req.seed if req.seed is not None else self.seed
        if seed is not None:
            payload["seed"] = seed
        if req.stop:
            payload["stop"] = list(req.stop[:_MAX_API_STOPS])
        return payload

    def loglikelihood_payload(self, reqs: Sequence[LoglikelihoodRequest]) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "prompt": [r.context + r.continuation for r in reqs],
            "max_tokens": self._echo_max_tokens,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
            **(
                {"echo_logprobs_from": [len(r.context) for r in reqs]}
                if self.echo_logprobs_from
                else {}
            ),
        }

    # -- sending ---------------------------------------------------------------------------

    async def _send(self, payload: dict[str, Any]) -> TransportResponse:
        asend = getattr(self.transport, "asend", None)
        if asend is not None:
            response: TransportResponse = await asend(payload)
            return response
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.transport.send, payload)  # type: ignore[union-attr]

    async def _call(self, payload: dict[str, Any], outcome: DocOutcome) -> dict[str, Any]:
        """POST one payload; a JSON dict with ``choices`` back, or SampleFailedError."""
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if outcome.deadline is not None and time.monotonic() >= outcome.deadline:
                raise SampleFailedError(
                    f"sample_timeout={self.sample_timeout:g}s passed after {attempt} attempts"
                    + (f"; last error: {last}" if last is not None else "")
                )
            if attempt:
                await asyncio.sleep(min(self.backoff_s * 2 ** (attempt - 1), 8.0))
            try:
                resp = await self._send(payload)
            except Exception as exc:  # a transport that raises (server mode: connection errors)
                last = SampleFailedError(f"request failed: {type(exc).__name__}: {exc}")
                continue
            outcome.latency_s += float(getattr(resp, "latency_s", 0.0) or 0.0)
            outcome.attempts += int(getattr(resp, "attempts", 1) or 0)
            outcome.cache_hit = outcome.cache_hit and bool(getattr(resp, "cache_hit", False))
            if resp.status_code >= 400:
                # the pipeline already retried what is retryable; the status is final
                raise SampleFailedError(
                    f"upstream answered HTTP {resp.status_code}: {_snippet(resp.content)}",
                    status=resp.status_code,
                    body=_snippet(resp.content),
                )
            try:
                body = resp.json()
            except UnicodeDecodeError as err:  # not a transient fault: never retried
                raise SampleFailedError(
                    f"response body is not valid UTF-8 (byte 0x{resp.content[err.start]:02x} "
                    f"at offset {err.start}): {_snippet(resp.content)}"
                ) from None
            except ValueError:
                last = ResponseFormatError(f"response is not JSON: {_snippet(resp.content)}")
                continue
            if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
                last = ResponseFormatError(
                    f"response has no 'choices' list: {_snippet(resp.content)}"
                )
                continue
            usage = body.get("usage")
            if isinstance(usage, dict):
                for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                    value = usage.get(key)
                    if isinstance(value, int):
                        outcome.usage[key] = outcome.usage.get(key, 0) + value
            return body
        assert last is not None
        if isinstance(last, SampleFailedError):
            raise last
        raise SampleFailedError(f"{last} (after {self.max_retries + 1} attempts)")

    async def _generate(self, req: GenerationRequest, outcome: DocOutcome) -> GenerationOutput:
        body = await self._call(self.generation_payload(req), outcome)
        choices = body["choices"]
        if not choices:
            raise SampleFailedError("response has an empty 'choices' list")
        choice = choices[0]
        if self.endpoint_type == "chat":
            message = choice.get("message") or {}
            text = message.get("content") or ""
        else:
            text = choice.get("text") or ""
        if not isinstance(text, str):
            raise SampleFailedError(f"response text is not a string: {text!r:.100}")
        outcome.raw.append(text)
        return GenerationOutput(
            text=apply_stops(text, req.stop), finish_reason=choice.get("finish_reason")
        )

    async def _loglikelihood_batch(
        self, reqs: Sequence[LoglikelihoodRequest], outcome: DocOutcome
    ) -> list[LoglikelihoodOutput]:
        payload = self.loglikelihood_payload(reqs)
        try:
            body = await self._call(payload, outcome)
        except SampleFailedError as err:
            # some servers reject max_tokens=0; fall back to 1 and drop the generated token
            if err.status in (400, 422) and self._echo_max_tokens == 0:
                with self._lock:
                    self._echo_max_tokens = 1
                payload = self.loglikelihood_payload(reqs)
                body = await self._call(payload, outcome)
            else:
                raise
        choices = sorted(body["choices"], key=lambda c: c.get("index", 0))
        if len(choices) != len(reqs):
            raise SampleFailedError(
                f"sent {len(reqs)} prompts but got {len(choices)} choices back; "
                "the server must accept a list of prompts"
            )
        outs = []
        for req, choice in zip(reqs, choices, strict=True):
            try:
                scored = continuation_logprob(
                    choice.get("logprobs"),
                    context=req.context,
                    continuation=req.continuation,
                    generated=int(payload.get("max_tokens") or 0),
                )
            except ResponseFormatError as err:
                raise SampleFailedError(str(err)) from None
            outs.append(LoglikelihoodOutput(logprob=scored.logprob, is_greedy=scored.is_greedy))
            outcome.raw.append([scored.logprob, scored.is_greedy])
        return outs

    async def arun(self, requests: Sequence[Request]) -> DocOutcome:
        """All requests of one document, in order (log-likelihood ones batched)."""
        outcome = DocOutcome(outputs=[], raw=[])
        if self.sample_timeout is not None:
            outcome.deadline = time.monotonic() + self.sample_timeout
        pending: list[LoglikelihoodRequest] = []

        async def flush() -> None:
            while pending:
                batch = pending[: self.loglikelihood_batch_size]
                del pending[: self.loglikelihood_batch_size]
                outcome.outputs.extend(await self._loglikelihood_batch(batch, outcome))

        for req in requests:
            if isinstance(req, LoglikelihoodRequest):
                if self.endpoint_type != "completions":
                    raise EvaluationConfigError(
                        "log-likelihood benchmarks need a completions endpoint "
                        "(--endpoint-type completions or a /v1/completions URL)"
                    )
                pending.append(req)
                if len(pending) >= self.loglikelihood_batch_size:
                    await flush()
            else:
                await flush()
                outcome.outputs.append(await self._generate(req, outcome))
        await flush()
        if not requests:
            outcome.cache_hit = False
        return outcome
