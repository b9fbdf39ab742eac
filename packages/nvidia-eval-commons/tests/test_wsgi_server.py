"""The shared waitress lifecycle: bind before workers, stop joins every thread (the busy-port
check covers the uvicorn one too)."""

from __future__ import annotations

import errno
import http.client
import socket
import threading

import pytest

from nvidia_eval_commons.wsgi_server import WsgiServer


def _app(environ, start_response):  # type: ignore[no-untyped-def]
    body = environ.get("PATH_INFO", "").encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def test_serves_and_stop_joins_the_loop_and_every_worker() -> None:
    server = WsgiServer(_app, threads=3, name="t-wsgi").start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:  # an HTTP/1.1 keep-alive connection stays open across stop()
        conn.request("GET", "/ping")
        assert conn.getresponse().read() == b"/ping"
        threads = server.running_threads()
        assert len(threads) == 4 and all(t.is_alive() for t in threads)
        server.stop()
    finally:
        conn.close()
    assert [t.name for t in threads if t.is_alive()] == []
    server.stop()  # idempotent
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        sock.bind(("127.0.0.1", server.port))  # nothing listens there any more


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
def test_a_busy_port_raises_the_bind_error_and_starts_no_thread(server: str) -> None:
    """Both lifecycles (this one and asgi_server's) bind before any thread starts."""
    from nvidia_eval_commons.asgi_server import AsgiServer

    def make(port: int) -> object:
        if server == "wsgi":
            return WsgiServer(_app, port=port, threads=4)
        return AsgiServer(_app, port=port)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        before = threading.active_count()
        for _ in range(3):
            with pytest.raises(OSError) as info:
                make(port)
            assert info.value.errno == errno.EADDRINUSE
        assert threading.active_count() == before
