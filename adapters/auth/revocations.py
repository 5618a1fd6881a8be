"""Where ended sessions are looked up on every request (the RevokedSessions port)."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.errors import DependencyUnavailable
from domain.ports.runtime import Clock
from domain.ports.security import RevokedSessions


class LocalRevokedSessions(RevokedSessions):
    """In this process: for the embedded deployment, where one process serves every request. The API fills it
    from the database when it starts (`remember`), so a restart forgets no revocation an access token outlives."""

    def __init__(self, clock: Clock, keep: timedelta) -> None:
        self._clock = clock
        self._keep = keep
        self._until: dict[UUID, datetime] = {}

    async def revoke(self, session_ids: Sequence[UUID]) -> None:
        now = self._clock.now()
        self._until = {k: v for k, v in self._until.items() if v > now}
        for session_id in session_ids:
            self._until[session_id] = now + self._keep

    async def is_revoked(self, session_id: UUID) -> bool:
        until = self._until.get(session_id)
        return until is not None and until > self._clock.now()


class RedisRevokedSessions(RevokedSessions):
    """One key per ended session, expiring when the last access token it could have issued has: every API
    process sees a revocation made by any other at once, and a request costs one EXISTS. Redis being down refuses
    requests (503) rather than letting an ended session through."""

    @classmethod
    def for_database(cls, url: str, keep: timedelta) -> "RedisRevokedSessions":
        database = urlsplit(url).path.strip("/") or "0"
        redis = Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        return cls(redis, keep, prefix=f"mailroom:{database}:revoked-session:")

    def __init__(self, redis: Redis, keep: timedelta, prefix: str = "mailroom:revoked-session:") -> None:
        self._redis = redis
        self._keep = max(1, int(keep.total_seconds()) + 1)
        self._prefix = prefix

    async def revoke(self, session_ids: Sequence[UUID]) -> None:
        if not session_ids:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    pipe.set(f"{self._prefix}{session_id.hex}", b"1", ex=self._keep)
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(
                f"the revocation list (Redis) cannot be written: {type(error).__name__}"
            ) from None

    async def is_revoked(self, session_id: UUID) -> bool:
        try:
            return bool(await self._redis.exists(f"{self._prefix}{session_id.hex}"))
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(f"the revocation list (Redis) cannot be read: {type(error).__name__}") from None

    async def close(self) -> None:
        await self._redis.aclose()
