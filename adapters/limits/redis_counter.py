import time
from collections.abc import Sequence

from redis.asyncio import Redis

from domain.ports.runtime import RateCounter


class RedisRateCounter(RateCounter):
    """Fixed windows in Redis, so every API process shares one budget: INCR is atomic, and the key expires with
    its window."""

    def __init__(self, redis: Redis, prefix: str = "mailroom:rate:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, windows: Sequence[int]) -> list[tuple[int, int]]:
        now = int(time.time())
        async with self._redis.pipeline(transaction=True) as pipe:
            for seconds in windows:
                name = f"{self._prefix}{key}:{seconds}:{now // seconds}"
                pipe.incr(name)
                pipe.expire(name, seconds + 1)
            replies = await pipe.execute()
        return [(int(replies[2 * i]), (now // s + 1) * s - now) for i, s in enumerate(windows)]

    async def close(self) -> None:
        await self._redis.aclose()
