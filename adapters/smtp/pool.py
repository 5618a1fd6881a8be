"""Open, logged-in SMTP connections kept per login, so a burst of sends does not pay a TCP, TLS and AUTH
handshake each (RFC 5321 section 4.1.4 allows many transactions on one connection)."""

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import aiosmtplib

from domain.accounts import MailLogin, ServerSettings

Opener = Callable[[], Awaitable[aiosmtplib.SMTP]]


@dataclass(frozen=True, slots=True)
class PoolKey:
    """Host, port, security and login; the password only as a digest, so a changed one opens new connections. An
    OAuth2 login is keyed without its token: a connection stays signed in when the token is renewed (hourly), and
    keying by token would strand every renewed-away token's idle connections in the pool."""

    host: str
    port: int
    security: str
    username: str
    password_digest: str

    @classmethod
    def of(cls, server: ServerSettings, login: MailLogin) -> "PoolKey":
        digest = "oauth2" if login.bearer else hashlib.sha256(login.secret.encode()).hexdigest()
        return cls(server.host.lower(), server.port, server.security.value, server.username, digest)


@dataclass
class Lease:
    client: aiosmtplib.SMTP
    reused: bool
    healthy: bool = True


@dataclass
class _Pool:
    slots: asyncio.Semaphore
    idle: list[tuple[aiosmtplib.SMTP, float]] = field(default_factory=list)


class ConnectionPool:
    """At most `per_login` connections to one login at a time (servers limit them: Gmail to about 15 IMAP and
    fewer SMTP); a connection idle for `max_idle` seconds is closed rather than reused, as servers drop them."""

    def __init__(self, per_login: int = 4, max_idle: float = 30.0) -> None:
        self._per_login = per_login
        self._max_idle = max_idle
        self._pools: dict[PoolKey, _Pool] = {}

    @asynccontextmanager
    async def connection(self, key: PoolKey, open_connection: Opener) -> AsyncIterator[Lease]:
        """A connected, authenticated client; back to the pool afterwards unless the caller marked the lease
        unhealthy (any error: the connection's state is unknown) or it was closed."""
        pool = self._pools.setdefault(key, _Pool(asyncio.Semaphore(self._per_login)))
        async with pool.slots:
            client = self._take_idle(pool)
            lease = Lease(client, reused=True) if client else Lease(await open_connection(), reused=False)
            try:
                yield lease
            except BaseException:
                lease.healthy = False
                raise
            finally:
                if lease.healthy and lease.client.is_connected:
                    pool.idle.append((lease.client, time.monotonic()))
                else:
                    _close(lease.client)

    async def close(self) -> None:
        for pool in self._pools.values():
            for client, _ in pool.idle:
                with suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()
                _close(client)
            pool.idle.clear()

    def _take_idle(self, pool: _Pool) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while pool.idle:
            client, since = pool.idle.pop()
            if client.is_connected and now - since < self._max_idle:
                return client
            _close(client)
        return None


def _close(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        client.close()
