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
    """Host, port, security and login; the password or access token only as a digest, so a changed one opens new
    connections. The secret must be part of the key: a connection signed in for one account must never carry
    another's mail (another tenant's account may name the same server and username with a junk token)."""

    host: str
    port: int
    security: str
    username: str
    password_digest: str

    @classmethod
    def of(cls, server: ServerSettings, login: MailLogin) -> "PoolKey":
        digest = hashlib.sha256(login.secret.encode()).hexdigest()
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
    leased: int = 0
    """Callers holding or waiting for a slot."""


class ConnectionPool:
    """At most `per_login` connections to one login at a time (servers limit them: Gmail to about 15 IMAP and
    fewer SMTP); a connection idle for `max_idle` seconds is closed rather than reused, as servers drop them."""

    def __init__(self, per_login: int = 4, max_idle: float = 30.0) -> None:
        self._per_login = per_login
        self._max_idle = max_idle
        self._pools: dict[PoolKey, _Pool] = {}
        self._swept = time.monotonic()

    @asynccontextmanager
    async def connection(self, key: PoolKey, open_connection: Opener) -> AsyncIterator[Lease]:
        """A connected, authenticated client; back to the pool afterwards unless the caller marked the lease
        unhealthy (any error: the connection's state is unknown) or it was closed."""
        self._sweep()
        pool = self._pools.setdefault(key, _Pool(asyncio.Semaphore(self._per_login)))
        pool.leased += 1  # holding a slot or waiting for one: the sweep leaves the key alone
        try:
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
        finally:
            pool.leased -= 1

    async def close(self) -> None:
        for pool in self._pools.values():
            for client, _ in pool.idle:
                with suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()
                _close(client)
            pool.idle.clear()

    def _sweep(self) -> None:
        """Closes idle connections past `max_idle` under every key, and forgets keys left with nothing: an OAuth2
        access token is renewed hourly, and each renewal is a new key whose predecessor would otherwise keep its
        connections and its entry for the life of the process. At most once per `max_idle`."""
        now = time.monotonic()
        if now - self._swept < self._max_idle:
            return
        self._swept = now
        for key, pool in list(self._pools.items()):
            for client, since in [entry for entry in pool.idle if now - entry[1] >= self._max_idle]:
                pool.idle.remove((client, since))
                _close(client)
            if not pool.idle and pool.leased == 0:
                del self._pools[key]

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
