"""A small OAuth2 authorization server on loopback, for the tests: it issues short-lived access tokens and answers
token introspection (RFC 7662) as Dovecot's oauth2 passdb asks it, so the real Dovecot (and Postfix, through its
SASL) accepts an access token while it is active and refuses it once it expired or its grant was revoked."""

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Grant:
    username: str
    revoked: bool = False


@dataclass
class AuthorizationServer:
    lifetime: float = 3600.0
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    """access token -> (grant id, expiry as time.monotonic())"""
    introspections: int = 0

    def grant(self, username: str) -> str:
        grant_id = secrets.token_urlsafe(8)
        self.grants[grant_id] = Grant(username)
        return grant_id

    def access_token(self, grant_id: str, lifetime: float | None = None) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        self.tokens[token] = (grant_id, time.monotonic() + (self.lifetime if lifetime is None else lifetime))
        return token

    def revoke(self, grant_id: str) -> None:
        self.grants[grant_id].revoked = True

    def active(self, token: str) -> Grant | None:
        grant_id, expires = self.tokens.get(token, ("", 0.0))
        grant = self.grants.get(grant_id)
        return grant if grant is not None and not grant.revoked and time.monotonic() < expires else None

    async def introspect(self, request: web.Request) -> web.Response:
        self.introspections += 1
        form = await request.post()
        token = form.get("token")
        grant = self.active(token) if isinstance(token, str) else None
        if grant is None:
            return web.json_response({"active": False})
        return web.json_response({"active": True, "username": grant.username, "token_type": "Bearer"})


@asynccontextmanager
async def serving(port: int, server: AuthorizationServer | None = None) -> AsyncIterator[AuthorizationServer]:
    server = server or AuthorizationServer()
    app = web.Application()
    app.router.add_post("/introspect", server.introspect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield server
    finally:
        await runner.cleanup()
