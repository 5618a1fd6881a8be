from taskiq import AsyncBroker, InMemoryBroker
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

RESULT_TTL_SECONDS = 7 * 24 * 3600


def build_broker(redis_url: str | None, queue_name: str = "mailroom") -> AsyncBroker:
    """A Redis stream broker (acknowledged: a task of a worker that dies is delivered again) or,
    without Redis, an in-process broker that runs each task inside the API process."""
    if redis_url is None:
        return InMemoryBroker()
    backend: RedisAsyncResultBackend[object] = RedisAsyncResultBackend(redis_url, result_ex_time=RESULT_TTL_SECONDS)
    return RedisStreamBroker(redis_url, queue_name=queue_name).with_result_backend(backend)
