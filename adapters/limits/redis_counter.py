from collections.abc import Sequence

from redis.asyncio import Redis

from domain.ports.runtime import RateCounter


class RedisRateCounter(RateCounter):
    """Fixed windows in Redis, so every API process shares one budget: INCRBY is atomic, and the key expires with
    its window."""

    def __init__(self, redis: Redis, prefix: str = "mailroom:rate:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, windows: Sequence[int], at: int, amount: int = 1) -> list[tuple[int, int]]:
        async with self._redis.pipeline(transaction=True) as pipe:
            for seconds in windows:
                name = f"{self._prefix}{key}:{seconds}:{at // seconds}"
                pipe.incrby(name, amount)
                pipe.expire(name, seconds + 1)
            replies = await pipe.execute()
        return [(int(replies[2 * i]), (at // s + 1) * s - at) for i, s in enumerate(windows)]

    async def close(self) -> None:
        await self._redis.aclose()
