"""Documents handed on in the run's order while they finish in any order.

The outputs (samples.jsonl, report.html) list the documents in the run's order, and
documents finish in about that order: they go out in order, ``parallelism`` at a time. An
:class:`InOrder` takes each finished document and passes on every one that is next in line,
so the rows are written while the run waits on the endpoint instead of all at the end.

A document that finishes ahead of the next in line is held until that one arrives. At most
``limit`` are held: one slow document (retries, a long timeout) could otherwise make every
later one wait in memory. Past the limit, or when :meth:`stop` is called, nothing more is
passed on or held; whoever writes the rest starts at :attr:`position` (the held documents are
in the journal like every other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class InOrder:
    """Passes ``(index, item)`` to ``emit`` in the order of ``order``; see the module docstring."""

    def __init__(
        self, order: Sequence[str], *, emit: Callable[[int, Any], None], limit: int
    ) -> None:
        self._index = {key: i for i, key in enumerate(order)}
        self._held: dict[int, Any] = {}
        self._emit = emit
        self._limit = max(0, limit)
        self.position = 0
        """Every document before this index was passed on; none from it on."""
        self.stopped = False

    def finished(self, key: str, item: Any) -> None:
        """``key`` finished with ``item``: pass on what is next in line, hold the rest."""
        if self.stopped:
            return
        index = self._index.get(key)
        if index is None or index < self.position:
            self.stop()  # not a document of this order, or one seen twice: leave it all to the end
            return
        self._held[index] = item
        held = self._held
        while self.position in held:
            self._emit(self.position, held.pop(self.position))
            self.position += 1
        if len(held) > self._limit:
            self.stop()

    def stop(self) -> None:
        """Pass nothing more on and drop what is held."""
        self.stopped = True
        self._held.clear()

    @property
    def held(self) -> int:
        return len(self._held)


__all__ = ["InOrder"]
