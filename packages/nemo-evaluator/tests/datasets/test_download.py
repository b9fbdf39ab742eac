"""Filling the cache from a canonical URL: a real HTTP server on loopback stands in for it."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nemo_evaluator.datasets import KNOWN_SHA256, DatasetError, locate, read_jsonl, resolve_source
from nemo_evaluator.datasets.sources import RemoteFile


class FileServer:
    """Serves fixed bodies by path on 127.0.0.1 and counts requests."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                body = outer.bodies.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FileServer]:
    srv = FileServer()
    yield srv
    srv.close()


@pytest.fixture
def cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("NEMO_EVALUATOR_DATA_DIR", raising=False)
    monkeypatch.delenv("NEMO_EVALUATOR_OFFLINE", raising=False)
    monkeypatch.setenv("NEMO_EVALUATOR_HOME", str(tmp_path))
    return tmp_path


def route(monkeypatch: pytest.MonkeyPatch, table: dict[tuple[str, str], RemoteFile]) -> None:
    monkeypatch.setattr(locate, "remote_file", lambda family, name: table.get((family, name)))


def test_download_verifies_and_caches_once(
    server: FileServer, cache_home: Path, monkeypatch: pytest.MonkeyPatch, shared_data_path: Path
) -> None:
    body = (shared_data_path / "gsm8k" / "test.jsonl").read_bytes()
    server.bodies["/gsm8k/test.jsonl"] = body
    route(monkeypatch, {("gsm8k", "test.jsonl"): RemoteFile(server.url + "/gsm8k/test.jsonl")})
    src = resolve_source("gsm8k")
    path = src.path("test.jsonl")
    assert path == cache_home / "datasets" / "gsm8k" / "test.jsonl"
    assert len(read_jsonl(path)) == 1319
    assert src.describe()["files"]["test.jsonl"]["canonical"] is True
    resolve_source("gsm8k").path("test.jsonl")
    assert server.hits == ["/gsm8k/test.jsonl"]  # the second run read the cache


def test_changed_upstream_is_refused(
    server: FileServer, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.bodies["/t.jsonl"] = b'{"question": "q", "answer": "#### 1"}\n'
    route(monkeypatch, {("gsm8k", "test.jsonl"): RemoteFile(server.url + "/t.jsonl")})
    with pytest.raises(DatasetError, match=r"sha256 mismatch for test\.jsonl"):
        resolve_source("gsm8k").path("test.jsonl")
    assert list((cache_home / "datasets" / "gsm8k").glob("*")) == []


def test_archive_member_is_extracted_and_checked(
    server: FileServer, cache_home: Path, monkeypatch: pytest.MonkeyPatch, shared_data_path: Path
) -> None:
    name = "ARC-Challenge-Dev.jsonl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(shared_data_path / "arc" / name, f"ARC-V1-Feb2018-2/ARC-Challenge/{name}")
    server.bodies["/arc.zip"] = buf.getvalue()
    member = f"ARC-V1-Feb2018-2/ARC-Challenge/{name}"
    route(monkeypatch, {("arc", name): RemoteFile(server.url + "/arc.zip", member=member)})
    path = resolve_source("arc").path(name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == KNOWN_SHA256["arc"][name]


def test_unreachable_and_http_errors_are_one_line(
    server: FileServer, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    route(monkeypatch, {("gsm8k", "test.jsonl"): RemoteFile(server.url + "/missing")})
    with pytest.raises(DatasetError, match=r"HTTP 404.*NEMO_EVALUATOR_DATA_DIR") as err:
        resolve_source("gsm8k").path("test.jsonl")
    assert "\n" not in str(err.value)
    closed = FileServer()
    url = closed.url
    closed.close()
    route(monkeypatch, {("gsm8k", "test.jsonl"): RemoteFile(url + "/t")})
    with pytest.raises(DatasetError, match=r"cannot download .*\(ConnectionError\)"):
        resolve_source("gsm8k").path("test.jsonl")


def test_canonical_urls_are_known_for_every_family() -> None:
    from nemo_evaluator.datasets.sources import remote_file

    assert remote_file("gsm8k", "train.jsonl").url.startswith("https://raw.githubusercontent.com/")
    arc = remote_file("arc", "ARC-Easy-Test.jsonl")
    assert arc.member == "ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Test.jsonl"
    assert remote_file("mmlu", "test/anatomy_test.csv").member == "data/test/anatomy_test.csv"
    assert remote_file("hellaswag", "hellaswag_val.jsonl") is not None
    assert remote_file("humaneval", "HumanEval.jsonl.gz") is not None
    assert remote_file("gsm8k", "other.jsonl") is None
