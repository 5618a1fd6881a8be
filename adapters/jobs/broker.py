from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from taskiq import AckableMessage, AsyncBroker, InMemoryBroker
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

RESULT_TTL_SECONDS = 7 * 24 * 3600
STREAM_MAX_LENGTH = 100_000


class ReclaimingRedisStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, reclaiming abandoned tasks on every turn of its loop.

    A task is acknowledged once its result is saved; a task whose worker died stays pending in the consumer
    group and, once it has been pending `idle_timeout` ms, is claimed here (XAUTOCLAIM, atomic: one worker gets
    it) and run again. taskiq-redis 1.2's own loop only looks for such tasks after new ones arrive, and guards
    the look with a lock that never expires if its holder is killed (taskiq-redis#131), so a dead worker's task
    could wait forever. Only the broker's one queue is read (`additional_streams` is not used here)."""

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                fetched: Any = await redis.xreadgroup(
                    self.consumer_group_name,
                    self.consumer_name,
                    {self.queue_name: ">"},
                    block=self.block,
                    noack=False,
                    count=self.count,
                )
                for _, entries in fetched or []:
                    for entry_id, fields in entries:
                        yield self._message(entry_id, fields)
                reclaimed: Any = await redis.xautoclaim(
                    self.queue_name,
                    self.consumer_group_name,
                    self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=self.unacknowledged_batch_size,
                )
                for entry_id, fields in reclaimed[1]:
                    yield self._message(entry_id, fields)

    def _message(self, entry_id: Any, fields: Any) -> AckableMessage:
        return AckableMessage(data=fields[b"data"], ack=self._ack_generator(id=entry_id, queue_name=self.queue_name))


QUEUE_NAME = "mailroom"


def build_broker(redis_url: str | None, queue_name: str = QUEUE_NAME, redelivery_seconds: float = 600) -> AsyncBroker:
    """The Redis stream broker or, without Redis, an in-process broker that runs each task inside the API process.

    On Redis, a task of a worker that died is delivered again after `redelivery_seconds`. The workers' consumer
    group starts from the beginning of the stream (taskiq-redis starts it at "$"), so tasks sent before any worker
    ever ran are not lost; the stream is trimmed to about STREAM_MAX_LENGTH entries, or it would keep every task
    ever sent (acknowledging does not delete)."""
    if redis_url is None:
        return InMemoryBroker()
    backend: RedisAsyncResultBackend[object] = RedisAsyncResultBackend(redis_url, result_ex_time=RESULT_TTL_SECONDS)
    broker = ReclaimingRedisStreamBroker(
        redis_url,
        queue_name=queue_name,
        consumer_id="0",
        maxlen=STREAM_MAX_LENGTH,
        idle_timeout=int(redelivery_seconds * 1000),
    )
    return broker.with_result_backend(backend)
