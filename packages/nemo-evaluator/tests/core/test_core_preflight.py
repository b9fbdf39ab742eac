"""The pre-flight check against real local servers: down, closing, 401, wrong path, wrong
type, unknown model; each answers in seconds with one line naming the fix."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import flask
import pytest

from nemo_evaluator.benchmarks.base import LoglikelihoodRequest
from nemo_evaluator.core.client import ModelClient
from nemo_evaluator.core.errors import PreflightError
from nemo_evaluator.core.evaluate import evaluate
from nemo_evaluator.core.preflight import preflight
from nemo_evaluator.testing import OpenAIStubServer
from nvidia_eval_commons.wsgi_server import WsgiServer


def _check(url: str, **kw: object) -> str:
    t0 = time.monotonic()
    with pytest.raises(PreflightError) as err:
        preflight(
            url,
            endpoint_type=str(kw.get("endpoint_type", "completions")),
            api_key=kw.get("api_key"),  # type: ignore[arg-type]
            model_id=kw.get("model_id"),  # type: ignore[arg-type]
        )
    assert time.monotonic() - t0 < 10
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.fixture
def closing_server() -> Iterator[str]:
    """Accepts connections and closes them at once, without an HTTP answer."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.recv(1024)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(5)
    sock.close()


@pytest.fixture
def chat_only_server() -> Iterator[str]:
    """A real server with only /v1/chat/completions and /v1/models."""
    app = flask.Flask("chat-only")

    @app.post("/v1/chat/completions")
    def chat() -> object:
        return {"choices": [{"message": {"role": "assistant", "content": "hi"}}]}

    @app.get("/v1/models")
    def models() -> object:
        return {"data": [{"id": "chat-model"}, {"id": "other-model"}]}

    with WsgiServer(app, threads=2, name="preflight-models") as server:
        yield server.url


def test_unreachable_names_host_and_port() -> None:
    url = OpenAIStubServer.closed_url()
    message = _check(url + "/v1/completions")
    port = url.rsplit(":", 1)[1]
    assert message.startswith(f"cannot reach 127.0.0.1:{port} (connection refused")
    assert "target.api_endpoint.url" in message


def test_closed_connection_says_so(closing_server: str) -> None:
    message = _check(closing_server + "/v1/completions")
    assert "closed the connection without an HTTP answer" in message
    assert "http:// vs https://" in message


def test_refused_key_names_the_key_setting() -> None:
    with OpenAIStubServer(api_key="right") as up:
        missing = _check(up.completions_url)
        wrong = _check(up.completions_url, api_key="wrong")
        assert (
            preflight(
                up.completions_url, endpoint_type="completions", api_key="right", model_id=None
            ).model_id
            == "stub-model"
        )
    assert "needs an API key (HTTP 401)" in missing and "api_key_env" in missing
    assert "refused the API key (HTTP 401)" in wrong and "--api-key" in wrong


def test_wrong_path_names_the_url_to_use() -> None:
    with OpenAIStubServer() as up:
        message = _check(up.url + "/v1/completion")  # a typo
        assert message.endswith(f"use {up.url}/v1/completions")
        message = _check(up.url + "/completions")  # no /v1
        assert message.endswith(f"use {up.url}/v1/completions")
        # the right URL passes, with or without the trailing slash, and asks nothing billed
        for url in (up.completions_url, up.completions_url + "/"):
            assert preflight(url, endpoint_type="completions", api_key=None, model_id=None).model_id
        assert up.request_count == 0 and up.models_requests >= 2


def test_wrong_endpoint_type_names_the_other(chat_only_server: str) -> None:
    message = _check(chat_only_server + "/v1/completions", model_id="chat-model")
    assert f"but {chat_only_server}/v1/chat/completions exists" in message
    assert "serves chat requests, not completions" in message


def test_unknown_model_lists_the_served_ones(chat_only_server: str, capsys) -> None:
    url = chat_only_server + "/v1/chat/completions"
    assert preflight(url, endpoint_type="chat", api_key=None, model_id="gpt").model_id == "gpt"
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"warning: model 'gpt' is not listed by {chat_only_server}/v1/models")
    assert "served: chat-model, other-model" in line and "--model-id" in line
    assert preflight(url, endpoint_type="chat", api_key=None, model_id="other-model").model_id
    assert capsys.readouterr().err == ""
    assert preflight(url, endpoint_type="chat", api_key=None, model_id=None).model_id == (
        "chat-model"
    )


def test_evaluate_fails_before_the_first_sample_and_can_skip_it(tmp_path, shared_data) -> None:
    target = {
        "api_endpoint": {"url": OpenAIStubServer.closed_url() + "/v1/completions", "model_id": "m"}
    }
    config = {"type": "arc_easy", "output_dir": str(tmp_path), "params": {"limit_samples": 2}}
    with pytest.raises(PreflightError, match="cannot reach"):
        evaluate(target, config)
    with OpenAIStubServer() as up:
        wrong = {"url": up.url + "/v1/completion", "model_id": "stub-model", "type": "completions"}
        target = {"api_endpoint": wrong}
        config = {**config, "output_dir": str(tmp_path / "second")}
        with pytest.raises(PreflightError, match="use http://"):
            evaluate(target, config)
        assert up.request_count == 0 and up.models_requests == 1
        # skipped: nothing is asked before the samples
        target["api_endpoint"]["url"] = up.completions_url
        skip = {**config, "params": {"limit_samples": 2, "extra": {"preflight": False}}}
        result = evaluate(target, skip)
    assert result.metadata.num_samples == 2 and up.models_requests == 1


def test_capabilities_are_read_from_the_model_list(chat_only_server: str) -> None:
    app = flask.Flask("capable")
    listed: list[object] = [["echo_logprobs_from", 7]]

    @app.get("/v1/models")
    def models() -> object:
        return {"data": [{"id": "m", "capabilities": listed[0]}, {"id": "n"}]}

    @app.post("/v1/completions")
    def completions() -> object:
        return {"choices": [{"text": "hi"}]}

    def capabilities(url: str) -> frozenset[str]:
        return preflight(url, endpoint_type="completions", api_key=None, model_id="m").capabilities

    with WsgiServer(app, threads=2, name="preflight-capable") as server:
        assert capabilities(server.url + "/v1/completions") == frozenset({"echo_logprobs_from"})
        listed[0] = "echo_logprobs_from"  # a string, not a list: not read letter by letter
        assert capabilities(server.url + "/v1/completions") == frozenset()
    # a server without the field
    chat = preflight(
        chat_only_server + "/v1/chat/completions", endpoint_type="chat", api_key=None, model_id=None
    )
    assert chat == ("chat-model", frozenset())


def test_the_client_tells_a_capable_server_where_each_continuation_starts() -> None:
    reqs = [LoglikelihoodRequest("Frage: Größe?\nAntwort:", " A"), LoglikelihoodRequest("∃x", "")]
    plain = ModelClient(None, endpoint_type="completions", model_id="m")  # type: ignore[arg-type]
    assert "echo_logprobs_from" not in plain.loglikelihood_payload(reqs)
    told = ModelClient(None, endpoint_type="completions", model_id="m", echo_logprobs_from=True)  # type: ignore[arg-type]
    payload = told.loglikelihood_payload(reqs)
    assert payload["echo_logprobs_from"] == [22, 2]  # characters, not bytes
    assert payload["prompt"] == ["Frage: Größe?\nAntwort: A", "∃x"]
