"""The least a waitress proxy costs: a bare WSGI app that forwards each POST upstream.

No Flask, no interceptors, no retries, no deadlines: one kept-alive ``http.client``
connection per worker thread, the body passed through as bytes. ``bench/adapter_overhead.py
--floor`` runs it beside our proxy (the same waitress server, threads and switch interval)
to show how much of the proxy's cost is the server design itself::

    python bench/proxy_floor.py --api-url http://127.0.0.1:PORT/v1/chat/completions
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

from nvidia_eval_commons.wsgi_server import WsgiServer


def forwarding_app(api_url: str) -> Any:
    parts = urlsplit(api_url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    local = threading.local()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        start_response(
            f"{resp.status} {resp.reason}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--switch-interval", type=float, default=0.0005)
    args = parser.parse_args()
    sys.setswitchinterval(args.switch_interval)
    server = WsgiServer(
        forwarding_app(args.api_url),
        threads=args.threads,
        name="proxy-floor",
        connection_limit=max(100, args.threads * 8),
    )
    print(f"proxy floor listening on {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
