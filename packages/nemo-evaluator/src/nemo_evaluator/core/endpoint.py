"""Endpoint helpers: the model list, URLs, and the HTTP transport used in server mode."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from nvidia_eval_commons.openai_url import base_url

from .errors import EvaluationError


def _auth(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def resolve_model_id(url: str, *, api_key: str | None, timeout: float) -> str:
    """The first model ``GET /v1/models`` lists (asked once per run when model_id is empty)."""
    models_url = base_url(url) + "/v1/models"
    try:
        resp = requests.get(models_url, headers=_auth(api_key), timeout=min(timeout, 60.0))
        resp.raise_for_status()
        models = resp.json().get("data") or []
        model_id = models[0]["id"]
    except (
        requests.RequestException,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
    ) as err:
        raise EvaluationError(
            f"could not ask {models_url} for its model ({type(err).__name__}: {err}); "
            "set api_endpoint.model_id (--model-id)"
        ) from None
    return str(model_id)


@dataclass
class HttpResponse:
    """The fields of the adapter's response the client reads, for an HTTP round trip."""

    status_code: int
    content: bytes
    cache_hit: bool
    latency_s: float
    attempts: int

    def json(self) -> Any:
        import json

        return json.loads(self.content)


class HttpTransport:
    """POSTs payloads to a URL (the local adapter server in server mode); thread-safe.

    One ``requests.Session`` per thread keeps connections alive (Session is not thread-safe).
    """

    def __init__(self, url: str, *, api_key: str | None, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", **_auth(api_key)}
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, payload: dict[str, Any]) -> HttpResponse:
        start = time.perf_counter()
        resp = self._session().post(
            self.url, json=payload, headers=self.headers, timeout=self.timeout
        )
        cache_hit = resp.headers.get("X-Adapter-Cache", "").lower() == "hit"
        attempts = int(resp.headers.get("X-Adapter-Attempts", "0" if cache_hit else "1"))
        return HttpResponse(
            status_code=resp.status_code,
            content=resp.content,
            cache_hit=cache_hit,
            latency_s=time.perf_counter() - start,
            attempts=attempts,
        )
