"""The SMTP connection pool: a connection signed in for one login is never lent to another, and keys left behind
(an OAuth2 access token is renewed hourly, each a new key) are swept with their idle connections."""

from typing import Any, cast

import aiosmtplib

from adapters.smtp.pool import ConnectionPool, PoolKey
from domain.accounts import MailLogin, Security, ServerSettings

SERVER = ServerSettings("smtp.gmail.example", 465, Security.SSL, "alice@gmail.example")


class FakeClient:
    def __init__(self, name: str) -> None:
        self.name, self.is_connected = name, True

    def close(self) -> None:
        self.is_connected = False


async def lend(pool: ConnectionPool, login: MailLogin, opened: list[FakeClient]) -> FakeClient:
    async def opener() -> aiosmtplib.SMTP:
        client = FakeClient(login.secret)
        opened.append(client)
        return cast("aiosmtplib.SMTP", client)

    async with pool.connection(PoolKey.of(SERVER, login), opener) as lease:
        return cast("Any", lease.client)


async def test_a_connection_signed_in_with_one_token_is_never_lent_for_another() -> None:
    pool, opened = ConnectionPool(), []
    alice = await lend(pool, MailLogin("alices-token", bearer=True), opened)
    attacker = await lend(pool, MailLogin("junk-token", bearer=True), opened)
    assert attacker is not alice, "the same server and username with another token gets its own connection"
    assert await lend(pool, MailLogin("alices-token", bearer=True), opened) is alice, "reused by its own login"


async def test_keys_left_behind_are_swept_with_their_idle_connections() -> None:
    pool, opened = ConnectionPool(max_idle=0.0), []
    old = await lend(pool, MailLogin("token-1", bearer=True), opened)
    await lend(pool, MailLogin("token-2", bearer=True), opened)  # renewed: a new key; the sweep runs first
    assert not old.is_connected
    assert len(pool._pools) == 1
