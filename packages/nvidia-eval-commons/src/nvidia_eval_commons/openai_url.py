"""OpenAI-compatible endpoint URLs, taken apart and put together in one place.

An endpoint URL is ``<base>/v1/<endpoint>``: ``http://h:8080/v1/chat/completions`` has the
base ``http://h:8080`` (a prefix such as ``http://h/prefix`` is kept) and the endpoint
``chat/completions``. Clients append their own paths (``/v1/models``) to the base.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

EndpointType = Literal["chat", "completions"]

_ENDPOINT_SUFFIX = re.compile(r"/(v1/)?(chat/)?completions/?$")
_PATHS: dict[str, str] = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}


def infer_endpoint_type(url: str) -> EndpointType:
    """``chat`` for a URL ending in ``/chat/completions``, ``completions`` for one ending in
    ``/completions``; chat otherwise (the usual for instruction-tuned models)."""
    path = url.split("?", 1)[0].rstrip("/")
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/completions"):
        return "completions"
    return "chat"


def base_url(url: str) -> str:
    """The base URL client paths such as ``/v1/models`` are appended to (no query).

    ``http://h:8080/v1/completions/`` -> ``http://h:8080``;
    ``http://h/prefix/v1/chat/completions`` -> ``http://h/prefix``;
    ``http://h/prefix/completions`` -> ``http://h/prefix``.
    """
    parts = urlsplit(url)
    path = parts.path
    idx = path.find("/v1/")
    if idx != -1 or path.endswith("/v1"):
        path = path[: idx if idx != -1 else len(path) - 3]
    else:
        path = _ENDPOINT_SUFFIX.sub("", path)
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"


def endpoint_path(url: str) -> str:
    """The path (and query) of a URL, e.g. ``/v1/completions/``."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def with_endpoint(url: str, endpoint_type: str) -> str:
    """``url`` itself when it names an endpoint, else a bare host (or ``.../v1``) with the
    endpoint type's path: ``http://h:1`` + chat -> ``http://h:1/v1/chat/completions``."""
    if "/completions" in url:
        return url
    base = url.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base + _PATHS["chat" if endpoint_type == "chat" else "completions"]


def switch_endpoint(url: str, endpoint_type: str) -> str | None:
    """``url`` with its OpenAI path switched to ``endpoint_type``'s, when it has one."""
    chat, completions = "/chat/completions", "/completions"
    if endpoint_type == "completions" and chat in url:
        return url.replace(chat, completions)
    if endpoint_type == "chat" and completions in url and chat not in url:
        return url.replace(completions, chat)
    return None


def retarget(url: str, *, host: str, port: int) -> str:
    """``url`` with its scheme, host and port replaced by a local server's (path and query
    kept; ``/v1/completions`` when it has no path)."""
    parts = urlsplit(url)
    return urlunsplit(("http", f"{host}:{port}", parts.path or "/v1/completions", parts.query, ""))


__all__ = [
    "EndpointType",
    "base_url",
    "endpoint_path",
    "infer_endpoint_type",
    "retarget",
    "switch_endpoint",
    "with_endpoint",
]
