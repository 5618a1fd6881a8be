import time

from redis.asyncio import Redis

from domain.ports.runtime import RateCounter


class RedisRateCounter(RateCounter):
    """Fixed windows in Redis, so every API process shares one budget: INCR is atomic, and the key expires with
    its window."""

    def __init__(self, redis: Redis, prefix: str = "mailroom:rate:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        now = int(time.time())
        window = now // window_seconds
        name = f"{self._prefix}{key}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds + 1)
            count, _ = await pipe.execute()
        return int(count), (window + 1) * window_seconds - now

    async def close(self) -> None:
        await self._redis.aclose()
