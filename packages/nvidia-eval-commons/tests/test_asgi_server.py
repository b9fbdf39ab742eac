"""The shared uvicorn lifecycle: bind before any thread, stop joins the loop and its executor."""

from __future__ import annotations

import asyncio
import http.client
import socket
import statistics
import threading
import time

from nvidia_eval_commons.asgi_server import AsgiServer


async def _app(scope, receive, send):  # type: ignore[no-untyped-def]
    """Echoes the path; ``/blocking`` first sleeps 50 ms in the loop's default executor."""
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/blocking":
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.05)
    body = scope["path"].encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_serves_and_stop_joins_the_loop_and_the_executor() -> None:
    stopped: list[bool] = []

    async def on_stop() -> None:
        stopped.append(asyncio.get_running_loop().is_running())

    server = AsgiServer(_app, name="t-asgi", executor_threads=2, on_stop=on_stop).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:  # an HTTP/1.1 keep-alive connection stays open across stop()
        conn.request("GET", "/ping")
        assert conn.getresponse().read() == b"/ping"
        conn.request("GET", "/blocking")
        assert conn.getresponse().read() == b"/blocking"
        threads = server.running_threads()
        names = sorted(t.name for t in threads)
        assert names[0] == "t-asgi" and names[1].startswith("t-asgi-blocking")
        assert len(threads) == 2 and all(t.is_alive() for t in threads)
        server.stop()
    finally:
        conn.close()
    assert [t.name for t in threads if t.is_alive()] == []
    assert stopped == [True]  # awaited on the server's loop, before it ended
    server.stop()  # idempotent
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        sock.bind(("127.0.0.1", server.port))  # nothing listens there any more


def test_executor_threads_bound_the_blocking_work() -> None:
    with AsgiServer(_app, name="t-asgi-pool", executor_threads=2) as server:
        results: list[bytes] = []

        def get() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/blocking")
            results.append(conn.getresponse().read())
            conn.close()

        clients = [threading.Thread(target=get) for _ in range(6)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        blocking = [t for t in server.running_threads() if "blocking" in t.name]
    assert results == [b"/blocking"] * 6
    assert len(blocking) == 2


def test_small_answers_do_not_wait_for_delayed_acks() -> None:
    """uvicorn writes an answer's head and body separately. With Nagle's algorithm on, the
    body waits for the client's ACK of the head, which Linux delays by 40 ms; a socket made
    with protocol 0 keeps Nagle on under asyncio. Here each answer takes well under 40 ms."""
    with AsgiServer(_app, name="t-asgi-nodelay") as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        times = []
        for i in range(15):
            t0 = time.perf_counter()
            conn.request("POST", f"/n{i}", body=b'{"a": 1}')
            assert conn.getresponse().read() == f"/n{i}".encode()
            times.append(time.perf_counter() - t0)
        conn.close()
    assert statistics.median(times) < 0.02, times
