import asyncio
import time
from collections.abc import Sequence

from domain.ports.runtime import RateCounter


class InProcessRateCounter(RateCounter):
    """Fixed windows in this process's memory: for the embedded default, where one process serves the API."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, windows: Sequence[int]) -> list[tuple[int, int]]:
        now = int(time.time())
        counted = []
        async with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > now}
            for seconds in windows:
                window = now // seconds
                count = self._counts.get((key, seconds, window), 0) + 1
                self._counts[(key, seconds, window)] = count
                counted.append((count, (window + 1) * seconds - now))
        return counted
