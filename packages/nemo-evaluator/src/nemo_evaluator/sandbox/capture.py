"""Bounded capture of a check's stdout and stderr until it exits or its deadline passes."""

from __future__ import annotations

import os
import selectors
import subprocess
import time


class Capture:
    """Keep the first ``limit`` bytes of a stream and drop the rest (still draining it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self.chunks.append(data)
            self.size += len(data)

    def text(self) -> str:
        out = b"".join(self.chunks).decode("utf-8", errors="replace")
        return out + "\n[... output truncated ...]" if self.truncated else out


def exited(pid: int) -> bool:
    """Has ``pid`` exited? Leaves it unreaped so its process-group id cannot be reused yet."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


_DRAIN_AFTER_EXIT_S = 0.2  # output a leftover background process may still add


def pump(proc: subprocess.Popen[bytes], out: Capture, err: Capture, deadline: float) -> bool:
    """Drain both pipes until the program exits; False when the deadline passed first.

    Once the program has exited, a background process it left behind may hold the pipes open;
    whatever it writes within ``_DRAIN_AFTER_EXIT_S`` is kept, then the group is killed.
    """
    assert proc.stdout is not None and proc.stderr is not None
    exited_at: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and now >= deadline:
                return False
            if exited_at is not None and now - exited_at >= _DRAIN_AFTER_EXIT_S:
                break
            for key, _ in sel.select(timeout=min(max(deadline - now, 0.0), 0.05)):
                data = os.read(key.fd, 65536)
                if data:
                    key.data.add(data)
                else:
                    sel.unregister(key.fileobj)
            if exited_at is None and sel.get_map() and exited(proc.pid):
                exited_at = time.monotonic()
    while not exited(proc.pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True
