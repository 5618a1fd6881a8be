from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.errors import DependencyUnavailable
from domain.ports.runtime import HealthProbe


class RedisBrokerProbe(HealthProbe):
    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url

    @property
    def name(self) -> str:
        return "broker"

    async def check(self) -> None:
        client = Redis.from_url(self._redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(f"redis: {type(error).__name__}") from None
        finally:
            await client.aclose()


class InProcessBrokerProbe(HealthProbe):
    """The embedded broker lives in this process: if we can answer, it is up."""

    @property
    def name(self) -> str:
        return "broker"

    async def check(self) -> None:
        return None
