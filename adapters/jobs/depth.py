"""How many jobs wait: on Redis, the consumer group's entries not yet delivered (`lag`) plus those delivered
and not acknowledged (`pending`), read with XINFO GROUPS (Redis 7)."""

from redis import Redis
from redis.exceptions import RedisError


class RedisQueueDepth:
    def __init__(self, redis_url: str, queue_name: str, group: str = "taskiq") -> None:
        self._redis = Redis.from_url(redis_url, socket_timeout=2)
        self._queue = queue_name
        self._group = group

    def __call__(self) -> float | None:
        """None when Redis cannot say (it is down): a scrape must not fail for it."""
        try:
            groups = self._redis.xinfo_groups(self._queue)
            group = next((g for g in groups if _text(g.get("name")) == self._group), None)
            if group is None:
                return float(self._redis.xlen(self._queue))
            return float((group.get("lag") or 0) + (group.get("pending") or 0))
        except RedisError as error:
            if "no such key" in str(error).lower():
                return 0.0
            return None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
