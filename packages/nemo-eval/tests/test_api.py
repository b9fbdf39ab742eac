"""The HTTP API on the embedded backend: shapes, errors, stop strings, sampling, lifecycle."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from nemo_eval.api import deploy
from nemo_eval.errors import CheckpointError, MissingExtraError, PortInUseError

pytestmark = [pytest.mark.model]


@pytest.fixture(scope="module")
def embedded(smol_dir: Path) -> Any:
    handle = deploy(serving_backend="embedded", server_port=0, max_input_len=64)
    yield handle
    handle.stop()


def test_models_health_and_trailing_slashes(embedded: Any) -> None:
    for path in ("/v1/models", "/v1/models/", "/v1/health", "/v1/health/"):
        assert requests.get(embedded.url + path, timeout=10).status_code == 200, path
    assert (
        requests.get(embedded.url + "/v1/models", timeout=10).json()["data"][0]["id"]
        == "SmolLM2-135M-Instruct"
    )
    resp = requests.post(
        embedded.url + "/v1/completions/", json={"prompt": "Hi", "max_tokens": 2}, timeout=60
    )
    assert resp.status_code == 200


def test_prompt_longer_than_max_input_len_is_a_400(embedded: Any) -> None:
    resp = requests.post(
        embedded.url + "/v1/completions",
        json={"prompt": "word " * 200, "max_tokens": 1},
        timeout=30,
    )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert "max_input_len=64" in error["message"] and error["param"] == "prompt"
    assert error["type"] == "invalid_request_error"


def test_errors_use_the_openai_shape(embedded: Any) -> None:
    bad_json = requests.post(
        embedded.url + "/v1/completions",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert bad_json.status_code == 400 and "JSON object" in bad_json.json()["error"]["message"]
    bad_param = requests.post(
        embedded.url + "/v1/completions", json={"prompt": "x", "temperature": -1}, timeout=10
    )
    assert bad_param.status_code == 400 and bad_param.json()["error"]["param"] == "temperature"
    missing = requests.get(embedded.url + "/v1/nothing", timeout=10)
    assert missing.status_code == 404 and "error" in missing.json()


def test_list_prompt_stop_strings_and_usage(embedded: Any) -> None:
    resp = requests.post(
        embedded.url + "/v1/completions",
        json={
            "prompt": ["1, 2, 3, 4,", "a, b, c,"],
            "max_tokens": 20,
            "temperature": 0,
            "stop": [","],
        },
        timeout=120,
    )
    body = resp.json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    for choice in body["choices"]:
        assert "," not in choice["text"] and choice["finish_reason"] == "stop"
    assert body["choices"][0]["text"].strip() == "5"
    assert body["usage"]["prompt_tokens"] > 0


def test_sampling_with_a_seed_repeats(embedded: Any) -> None:
    payload = {
        "prompt": "Once upon a time",
        "max_tokens": 10,
        "temperature": 1.0,
        "top_p": 0.9,
        "seed": 7,
    }
    first = requests.post(embedded.url + "/v1/completions", json=payload, timeout=60).json()[
        "choices"
    ][0]["text"]
    again = requests.post(embedded.url + "/v1/completions", json=payload, timeout=60).json()[
        "choices"
    ][0]["text"]
    assert first == again and first


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError) as info:
            deploy(server_port=port)
    assert f"port {port}" in str(info.value) and "\n" not in str(info.value)


def test_missing_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as info:
        deploy(nemo_checkpoint=str(tmp_path / "nope.nemo"), server_port=0)
    assert "does not exist" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("backend", "module"), [("pytriton", "pytriton"), ("ray", "ray")])
def test_missing_extra_names_the_install_command(
    backend: str, module: str, monkeypatch: pytest.MonkeyPatch, smol_dir: Path
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    with pytest.raises(MissingExtraError) as info:
        deploy(serving_backend=backend, server_port=0)
    assert f"pip install 'nemo-eval[{backend}]'" in str(info.value) and "\n" not in str(info.value)


def test_stop_frees_the_port(smol_dir: Path) -> None:
    with deploy(server_port=0) as handle:
        port = handle.port
        assert requests.get(handle.url + "/v1/health", timeout=10).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=5)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again


def _server_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("nemo-eval")}


def test_stop_ends_every_thread_while_clients_keep_connections_open(smol_dir: Path) -> None:
    before = _server_threads()
    sessions = [requests.Session() for _ in range(3)]
    try:
        with deploy(server_port=0) as handle:
            for session in sessions:  # each keeps a keep-alive connection open
                resp = session.post(
                    handle.completions_url, json={"prompt": "Hi", "max_tokens": 2}, timeout=60
                )
                assert resp.status_code == 200
            assert _server_threads() - before, "the deployment runs no named threads"
            port = handle.port
        assert not {t for t in _server_threads() - before if t.is_alive()}
        # stop() closed those connections itself, so they linger in TIME_WAIT on the server's
        # port; a new deployment on the same port must still start
        with deploy(server_port=port) as again:
            assert requests.get(again.url + "/v1/health", timeout=10).status_code == 200
    finally:
        for session in sessions:
            session.close()
