"""Endpoint URLs: base, path, endpoint type, completing a bare host, retargeting."""

from __future__ import annotations

import pytest

from nvidia_eval_commons.openai_url import (
    base_url,
    endpoint_path,
    infer_endpoint_type,
    retarget,
    switch_endpoint,
    with_endpoint,
)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://h:8080/v1/completions/", "http://h:8080"),
        ("http://h:8080/v1/chat/completions?x=1", "http://h:8080"),
        ("http://h/prefix/v1/chat/completions", "http://h/prefix"),
        ("http://h/prefix/v1", "http://h/prefix"),
        ("http://h/prefix/v1/", "http://h/prefix"),
        ("http://h/prefix/completions", "http://h/prefix"),
        ("http://h:1", "http://h:1"),
        ("http://h:1/", "http://h:1"),
    ],
)
def test_base_url(url: str, base: str) -> None:
    assert base_url(url) == base


def test_endpoint_path_keeps_the_query_and_the_trailing_slash() -> None:
    assert endpoint_path("http://h/v1/completions/") == "/v1/completions/"
    assert endpoint_path("http://h/v1/chat/completions?a=b") == "/v1/chat/completions?a=b"
    assert endpoint_path("http://h") == ""


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://h/v1/chat/completions/", "chat"),
        ("http://h/v1/completions?x", "completions"),
        ("http://h/v1/models", "chat"),
    ],
)
def test_infer_endpoint_type(url: str, kind: str) -> None:
    assert infer_endpoint_type(url) == kind


def test_with_endpoint_completes_only_a_bare_host() -> None:
    assert with_endpoint("http://h:1", "chat") == "http://h:1/v1/chat/completions"
    assert with_endpoint("http://h:1/v1/", "completions") == "http://h:1/v1/completions"
    assert with_endpoint("http://h:1/v1/completions/", "chat") == "http://h:1/v1/completions/"


def test_retarget_replaces_scheme_host_and_port_only() -> None:
    assert retarget("https://far:443/v1/chat/completions?q=1", host="127.0.0.1", port=9) == (
        "http://127.0.0.1:9/v1/chat/completions?q=1"
    )
    assert retarget("http://far", host="127.0.0.1", port=9) == "http://127.0.0.1:9/v1/completions"


def test_switch_endpoint_swaps_chat_and_completions_paths() -> None:
    assert (
        switch_endpoint("http://h/v1/chat/completions", "completions") == "http://h/v1/completions"
    )
    assert switch_endpoint("http://h/v1/completions/", "chat") == "http://h/v1/chat/completions/"
    assert switch_endpoint("http://h/v1/chat/completions", "chat") is None
    assert switch_endpoint("http://h:1", "chat") is None
