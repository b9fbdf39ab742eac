"""A shorter interpreter thread switch interval while I/O-bound request threads run.

Client mode and the evaluate core run many threads that mostly wait on sockets. When an
answer arrives, its thread must take the GIL back from whichever thread is busy; with
Python's default 5 ms switch interval it can wait a whole slice for it, and the waits add up
to milliseconds per request (see ``bench/adapter_overhead.py`` and
``bench/eval_throughput.py``). :class:`ShortSwitchInterval` lowers the interval while at
least one holder is active and puts back the value it found when the last one leaves, so
nested users (an evaluate run with its own adapter pipeline) compose::

    with ShortSwitchInterval():
        ...  # threaded request work

``acquire``/``release`` do the same for objects with a ``close`` method (the pipeline).
"""

from __future__ import annotations

import sys
import threading

DEFAULT_INTERVAL_S = 0.0005
"""What the ``adapter`` CLI uses too (``--switch-interval``)."""

_lock = threading.Lock()
_holders = 0
_saved: float | None = None


def acquire(interval_s: float = DEFAULT_INTERVAL_S) -> None:
    """Lower the switch interval to ``interval_s`` (never raise it) until :func:`release`."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = sys.getswitchinterval()
        _holders += 1
        if interval_s < sys.getswitchinterval():
            sys.setswitchinterval(interval_s)


def release() -> None:
    """Undo one :func:`acquire`; the last release restores the interval found first."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0 and _saved is not None:
            sys.setswitchinterval(_saved)
            _saved = None


class ShortSwitchInterval:
    """Context manager around :func:`acquire` and :func:`release`."""

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.interval_s = interval_s

    def __enter__(self) -> ShortSwitchInterval:
        acquire(self.interval_s)
        return self

    def __exit__(self, *exc: object) -> None:
        release()
