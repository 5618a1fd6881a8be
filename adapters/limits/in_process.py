import asyncio
import time

from domain.ports.runtime import RateCounter


class InProcessRateCounter(RateCounter):
    """Fixed windows in this process's memory: for the embedded default, where one process serves the API."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        now = int(time.time())
        window = now // window_seconds
        async with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > now}
            count = self._counts.get((key, window_seconds, window), 0) + 1
            self._counts[(key, window_seconds, window)] = count
        return count, (window + 1) * window_seconds - now
