"""The pre-flight check: before the first sample, make sure the endpoint can answer at all.

Two cheap GET requests with short timeouts (nothing is generated or billed), so a wrong
setting fails in seconds with one line:

1. ``GET <base>/v1/models`` (with the API key): an unreachable host or a closed connection and
   a refused key (401/403) are errors; a ``model_id`` the server does not list is a warning
   line listing the served ones (some servers, nemo-eval's among them, answer any model
   name); when ``model_id`` is empty, the first served model is the one evaluated. The
   extensions the list names under ``capabilities`` come back with the model id.
2. ``GET <url>``: a POST-only route answers 405, a missing one 404. On a 404 the other OpenAI
   paths of the server are tried, and the line names the URL to use, or says that the server
   serves the other endpoint type.

Skip it with ``params.extra.preflight: false`` (CLI ``--no-preflight``) for endpoints that
bill every request or forbid these calls.
"""

from __future__ import annotations

import http.client
import sys
from typing import NamedTuple
from urllib.parse import urlsplit

import requests

from nvidia_eval_commons.openai_url import base_url

from .errors import PreflightError

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
_PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _get(method: str, url: str, *, api_key: str | None, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        return requests.request(
            method,
            url,
            headers=headers,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            allow_redirects=False,
            **kwargs,  # type: ignore[arg-type]
        )
    except requests.ConnectTimeout:
        raise PreflightError(
            f"cannot reach {_host_port(url)}: no answer to the connection within "
            f"{CONNECT_TIMEOUT_S:g} s; check the host in {url} and any firewall"
        ) from None
    except requests.ReadTimeout:
        raise PreflightError(
            f"{_host_port(url)} accepted the connection but did not answer {url} within "
            f"{READ_TIMEOUT_S:g} s; is the server still starting? (skip this check with "
            "params.extra.preflight=false)"
        ) from None
    except requests.ConnectionError as err:
        if _closed(err):
            raise PreflightError(
                f"{_host_port(url)} closed the connection without an HTTP answer to {url}; "
                "is it an HTTP server (http:// vs https://, the right port)?"
            ) from None
        raise PreflightError(
            f"cannot reach {_host_port(url)} (connection refused or no such host); is the "
            f"server running? check target.api_endpoint.url ({url})"
        ) from None


def _closed(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, (http.client.RemoteDisconnected, ConnectionResetError)):
            return True
        text = str(seen)
        if "RemoteDisconnected" in text or "Connection aborted" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _auth_refused(resp: requests.Response, url: str, *, key_set: bool) -> PreflightError:
    what = "refused the API key" if key_set else "needs an API key"
    return PreflightError(
        f"{url} {what} (HTTP {resp.status_code}); set target.api_endpoint.api_key_env to the "
        "variable holding the key (or api_key; CLI --api-key)"
    )


class Preflight(NamedTuple):
    """What the check learnt: the model id to send (None when the server lists no models and
    none was given) and the extensions the server lists under ``capabilities`` in
    ``/v1/models`` (nemo-eval's own server: ``echo_logprobs_from``; empty for any other)."""

    model_id: str | None
    capabilities: frozenset[str]


def _served_models(url: str, *, api_key: str | None) -> tuple[list[str] | None, frozenset[str]]:
    """The served model ids (None when the server has no usable model list) and the
    capabilities the list names."""
    models_url = base_url(url) + "/v1/models"
    resp = _get("GET", models_url, api_key=api_key)
    if resp.status_code in (401, 403):
        raise _auth_refused(resp, models_url, key_set=bool(api_key))
    if resp.status_code != 200:
        return None, frozenset()
    try:
        data = resp.json().get("data")
        ids = [str(m["id"]) for m in data]
    except (ValueError, AttributeError, KeyError, TypeError):
        return None, frozenset()
    caps = frozenset(
        c
        for m in data  # each one a mapping: its "id" was read above
        if isinstance(m.get("capabilities"), list)
        for c in m["capabilities"]
        if isinstance(c, str)
    )
    return ids, caps


def _status(url: str, *, api_key: str | None) -> int:
    """``GET url``: a POST-only route answers 405 (or 400, 200...), a missing one 404."""
    return _get("GET", url, api_key=api_key).status_code


def _missing(status: int) -> bool:
    return status == 404 or 300 <= status < 400


def _bases(url: str) -> list[str]:
    """Where the OpenAI paths may live: the URL's own prefix, then the server's root."""
    parts = urlsplit(url)
    root = f"{parts.scheme}://{parts.netloc}"
    return list(dict.fromkeys([base_url(url), root]))


def _check_path(url: str, *, endpoint_type: str, api_key: str | None) -> None:
    """A wrong path is reported only when another OpenAI path of the server answers: a server
    that answers 404 to every GET cannot be told apart and passes."""
    status = _status(url, api_key=api_key)
    if status in (401, 403):
        raise PreflightError(
            f"{url} refused the request (HTTP {status}); set target.api_endpoint.api_key_env "
            "to the variable holding the key (or api_key; CLI --api-key)"
        )
    if not _missing(status):
        return
    other = "completions" if endpoint_type == "chat" else "chat"
    for base in _bases(url):
        right = base + _PATHS[endpoint_type]
        if url.rstrip("/") != right and not _missing(_status(right, api_key=api_key)):
            raise PreflightError(
                f"{url} answered HTTP {status}: not an endpoint of this server; use {right}"
            )
    for base in _bases(url):
        sibling = base + _PATHS[other]
        if not _missing(_status(sibling, api_key=api_key)):
            raise PreflightError(
                f"{url} answered HTTP {status}, but {sibling} exists: this server serves "
                f"{other} requests, not {endpoint_type}; set target.api_endpoint.url to "
                f"{sibling} (type {other}) and use a benchmark that runs on {other} "
                "(nemo-evaluator ls shows which)"
            )


def preflight(
    url: str, *, endpoint_type: str, api_key: str | None, model_id: str | None
) -> Preflight:
    """Check the endpoint as described above; returns the model id to send and the
    server's capabilities."""
    served, capabilities = _served_models(url, api_key=api_key)
    if served is not None and model_id is not None and model_id not in served:
        more = f" (+{len(served) - 20} more)" if len(served) > 20 else ""
        shown = ", ".join(served[:20]) + more
        # servers that answer any model name (nemo-eval's own) list one; a server that
        # enforces names answers the first sample with an error that quotes its body
        print(
            f"warning: model '{model_id}' is not listed by {base_url(url)}/v1/models; served: "
            f"{shown or 'none'}; if the server refuses it, set target.api_endpoint.model_id "
            "(--model-id) to one of them",
            file=sys.stderr,
            flush=True,
        )
    _check_path(url, endpoint_type=endpoint_type, api_key=api_key)
    return Preflight(model_id or (served[0] if served else None), capabilities)


__all__ = ["CONNECT_TIMEOUT_S", "READ_TIMEOUT_S", "Preflight", "preflight"]
