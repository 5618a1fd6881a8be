import asyncio
from collections.abc import Sequence

from domain.ports.runtime import RateCounter


class InProcessRateCounter(RateCounter):
    """Fixed windows in this process's memory: for the embedded default, where one process serves the API."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, windows: Sequence[int], at: int, amount: int = 1) -> list[tuple[int, int]]:
        counted = []
        async with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > at}
            for seconds in windows:
                window = at // seconds
                count = self._counts.get((key, seconds, window), 0) + amount
                self._counts[(key, seconds, window)] = count
                counted.append((count, (window + 1) * seconds - at))
        return counted
