"""The event-loop upstream's HTTP/1.1 connections against hand-written answers: chunked,
gzip, closing, HTTP/1.0 to the end of the stream, interim 1xx, a pooled connection the
server closed while idle, and bytes that are not HTTP."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socketserver
import ssl
import subprocess
import threading

import pytest
from adapter_support import RawUpstream, chat_payload, fast_retries, read_request, serving

from nemo_evaluator.adapters.async_http import AsyncHttpPool, HttpProtocolError, within

BODY = b'{"choices": [{"message": {"role": "assistant", "content": "ok"}}]}'


def _answer(mode: str) -> bytes:
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if mode == "chunked":
        chunks = [BODY[:10], BODY[10:11], BODY[11:]]
        data = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks)
        return ok + b"Transfer-Encoding: chunked\r\n\r\n" + data + b"0\r\nX-Trailer: t\r\n\r\n"
    if mode == "gzip":
        packed = gzip.compress(BODY)
        return ok + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
            len(packed),
            packed,
        )
    if mode == "close":
        return ok + b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    if mode == "http10":
        return b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + BODY
    if mode == "interim":
        return b"HTTP/1.1 100 Continue\r\n\r\n" + _answer("keep")
    if mode == "garbage":
        return b"SSH-2.0-OpenSSH_9.6\r\n\r\n"
    return ok + b"Retry-After: 0\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: RawUpstream = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections = getattr(server, "connections", 0) + 1
        while read_request(self.rfile):
            with server.lock:
                server.requests += 1
            self.wfile.write(_answer(server.mode))
            self.wfile.flush()
            if server.mode in ("close", "http10", "garbage", "idle-close"):
                return  # idle-close: keep-alive promised, then closed while idle


def _fetch(url: str, times: int) -> tuple[list[bytes], list[int]]:
    async def main() -> tuple[list[bytes], list[int]]:
        pool = AsyncHttpPool()
        bodies, statuses = [], []
        try:
            for _ in range(times):
                answer = await pool.request(
                    "POST",
                    url,
                    headers={"Content-Type": "application/json"},
                    body=b"{}",
                    connect_timeout=5.0,
                )
                bodies.append(answer.body)
                statuses.append(answer.status)
                await asyncio.sleep(0.05)  # lets a closing server's FIN arrive first
        finally:
            await pool.close()
        return bodies, statuses

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("mode", "connections"),
    [
        ("keep", 1),
        ("chunked", 1),
        ("gzip", 1),
        ("interim", 1),
        ("close", 3),
        ("http10", 3),
        ("idle-close", 3),
    ],
)
def test_every_answer_shape_reads_the_same_body(mode: str, connections: int) -> None:
    with serving(RawUpstream(Handler, mode)) as server:
        bodies, statuses = _fetch(server.url, 3)
    assert bodies == [BODY] * 3 and statuses == [200] * 3
    assert server.requests == 3
    assert server.connections == connections  # kept alive only when the answer allows it


def test_retry_after_is_found_whatever_its_case() -> None:
    async def main() -> str | None:
        pool = AsyncHttpPool()
        with serving(RawUpstream(Handler, "keep")) as server:
            answer = await pool.request("GET", server.url, headers={}, body=b"", connect_timeout=5)
        await pool.close()
        return answer.headers.get("retry-after")

    assert asyncio.run(main()) == "0"


def test_a_stale_pooled_connection_is_replaced_without_an_error() -> None:
    # the server closes each connection right after its answer, without saying so; the pool
    # only learns it when the next request finds the connection dead
    with serving(RawUpstream(Handler, "idle-close")) as server:

        async def main() -> list[int]:
            pool = AsyncHttpPool()
            out = []
            for _ in range(3):  # no pause: the dead connection is still in the pool
                a = await pool.request(
                    "POST", server.url, headers={}, body=b"{}", connect_timeout=5
                )
                out.append(a.status)
            await pool.close()
            return out

        assert asyncio.run(main()) == [200, 200, 200]
    assert server.requests == 3


def test_bytes_that_are_not_http_fail_and_give_502_through_the_pipeline(make_pipeline) -> None:
    with serving(RawUpstream(Handler, "garbage")) as server:
        with pytest.raises(HttpProtocolError, match=r"not an HTTP/1\.x status line"):
            _fetch(server.url, 1)
        pipeline = make_pipeline(None, url=server.url, upstream_config=fast_retries(1, 2.0))

        async def main():
            return await pipeline.asend(chat_payload())

        resp = asyncio.run(main())
    assert resp.status_code == 502 and resp.attempts == 2


def test_a_header_with_a_line_break_is_refused_before_sending() -> None:
    with serving(RawUpstream(Handler, "keep")) as server:

        async def main() -> None:
            pool = AsyncHttpPool()
            try:
                await pool.request(
                    "POST",
                    server.url,
                    headers={"X-A": "v\r\nX-Injected: 1"},
                    body=b"",
                    connect_timeout=5,
                )
            finally:
                await pool.close()

        with pytest.raises(HttpProtocolError, match="line break"):
            asyncio.run(main())
    assert server.requests == 0


def test_a_silent_upstream_is_bounded_by_the_callers_timeout() -> None:
    stop = threading.Event()

    class Silent(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            read_request(self.rfile)
            stop.wait(5)

    with serving(RawUpstream(Silent, "silent")) as server:

        async def main() -> None:
            pool = AsyncHttpPool()
            try:
                await within(
                    pool.request("POST", server.url, headers={}, body=b"{}", connect_timeout=5),
                    0.3,
                )
            finally:
                await pool.close()

        with pytest.raises(TimeoutError):
            asyncio.run(main())
        stop.set()


def _self_signed(tmp_path) -> tuple[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.mark.skipif(
    shutil.which("openssl") is None,
    reason="needs the openssl command to make a certificate (apt install openssl)",
)
def test_https_verifies_the_certificate_and_keeps_the_connection(tmp_path, monkeypatch) -> None:
    cert, key = _self_signed(tmp_path)
    server = RawUpstream(Handler, "keep")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = server.url.replace("http://127.0.0.1", "https://localhost")
    with serving(server):
        with pytest.raises(ssl.SSLCertVerificationError):  # not trusted: refused
            _fetch(url, 1)
        monkeypatch.setenv("SSL_CERT_FILE", cert)  # trusted from here on
        bodies, statuses = _fetch(url, 3)
    assert bodies == [BODY] * 3 and statuses == [200] * 3
    assert (
        server.connections == 1
    )  # one kept alive for all three (the refused one never got a handler)
