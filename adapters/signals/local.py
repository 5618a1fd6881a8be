import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.ports.runtime import Doorbell, Listener

EVERYTHING = "*"
"""The key a listener receives instead of the keys themselves when some may be missing: it re-reads everything of
the topic. The store stays the truth, so one such wake-up costs a read, never a lost change."""


class _PendingKeys(Listener):
    """What was rung for one listener since its last wait. Past `limit` distinct keys they collapse into EVERYTHING,
    so a listener that stopped waiting (a stalled stream) holds a bounded set, however much is rung."""

    def __init__(self, limit: int) -> None:
        self._keys: set[str] = set()
        self._limit = limit
        self._rung = asyncio.Event()

    def add(self, key: str) -> None:
        if EVERYTHING not in self._keys:
            if key == EVERYTHING or (len(self._keys) >= self._limit and key not in self._keys):
                self._keys = {EVERYTHING}
            else:
                self._keys.add(key)
        self._rung.set()

    async def wait(self, seconds: float) -> set[str]:
        if not self._keys and seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await self._rung.wait()
            except TimeoutError:
                pass
        keys, self._keys = self._keys, set()
        self._rung.clear()
        return keys


class LocalDoorbell(Doorbell):
    """Rings within this process: for the embedded default, where one process serves the API and runs the jobs, and
    as the fan-out behind RedisDoorbell. A ring reaches the listeners entered before it, each once however many
    wait; a listener that receives EVERYTHING (more than `pending_limit` keys rung since its last wait, or a ring
    that may have been lost) re-reads the whole topic."""

    def __init__(self, pending_limit: int = 10_000) -> None:
        self._listeners: dict[str, set[_PendingKeys]] = {}
        self._pending_limit = pending_limit

    async def ring(self, topic: str, key: str) -> None:
        for listener in self._listeners.get(topic, ()):
            listener.add(key)

    @asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[Listener]:
        listener = _PendingKeys(self._pending_limit)
        self._listeners.setdefault(topic, set()).add(listener)
        try:
            yield listener
        finally:
            listeners = self._listeners[topic]
            listeners.discard(listener)
            if not listeners:
                del self._listeners[topic]
