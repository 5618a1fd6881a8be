"""A small OAuth2 authorization server on loopback, for the tests: it issues short-lived access tokens and answers
token introspection (RFC 7662) as Dovecot's oauth2 passdb asks it, so the real Dovecot (and Postfix, through its
SASL) accepts an access token while it is active and refuses it once it expired or its grant was revoked.

It also runs the authorization-code flow a real provider (Google, Microsoft, Fastmail) runs for Mailroom's OAuth2
client: an authorization endpoint with no login page (the consenting user is set by the test), PKCE S256 only
(RFC 7636, as OAuth 2.1 asks of every client), a token endpoint with rotating refresh tokens and reuse detection
(RFC 9700 section 4.14.2, what Google and Microsoft do for public clients), a userinfo endpoint, and knobs for the
faults a client meets: a slow token endpoint (to make two refreshers overlap) and an outage (503)."""

import asyncio
import base64
import binascii
import hashlib
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import jwt
from aiohttp import web

ID_TOKEN_KEY = "test-signing-key-0123456789abcdef0123"
CODE_LIFETIME = 600.0
"""RFC 6749 section 4.1.2: a maximum authorization code lifetime of 10 minutes is recommended."""
PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
"""RFC 7636 section 4.1: a code verifier is 43 to 128 unreserved characters; an S256 challenge is 43 of them."""


@dataclass
class Grant:
    username: str
    revoked: bool = False
    scope: str = ""


@dataclass
class AuthorizationCode:
    grant_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    expires: float
    """time.monotonic()"""
    nonce: str | None = None
    used: bool = False


@dataclass
class RefreshToken:
    grant_id: str
    client_id: str
    spent: bool = False
    """Rotated already: presenting it again is a replay, and the whole grant goes (RFC 9700 section 4.14.2)."""


class TokenError(Exception):
    """An error answer of the token endpoint, RFC 6749 section 5.2."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def error_response(
    error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status, headers=headers)


def with_query(uri: str, params: dict[str, str]) -> str:
    """RFC 6749 section 3.1.2: the redirection URI may carry a query, which must be kept when adding parameters."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def s256(verifier: str) -> str:
    """RFC 7636 section 4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


@dataclass
class AuthorizationServer:
    lifetime: float = 3600.0
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    """access token -> (grant id, expiry as time.monotonic())"""
    introspections: int = 0
    client_id: str = "mailroom-test"
    client_secret: str = "mailroom-test-secret"
    consenting_user: str | None = None
    """Who approves at /authorize; when None, the login_hint Mailroom sent does."""
    deny: bool = False
    """The user refuses consent: /authorize redirects with error=access_denied."""
    token_delay: float = 0.0
    """Seconds a refresh waits before it is looked at, so two concurrent refreshers overlap."""
    unavailable: int = 0
    """While > 0, the next token-endpoint calls get 503 (an outage: a temporary failure), one less each time."""
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    last_authorize: dict[str, str] = field(default_factory=dict)
    refreshes: int = 0
    """Successful refreshes."""
    refresh_attempts: int = 0
    """Token-endpoint calls with grant_type=refresh_token, whatever came of them (the 503s too)."""
    base_url: str = ""
    """Set by serving()."""

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def userinfo_url(self) -> str:
        return f"{self.base_url}/userinfo"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    def grant(self, username: str, scope: str = "") -> str:
        grant_id = secrets.token_urlsafe(8)
        self.grants[grant_id] = Grant(username, scope=scope)
        return grant_id

    def access_token(self, grant_id: str, lifetime: float | None = None) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        self.tokens[token] = (grant_id, time.monotonic() + (self.lifetime if lifetime is None else lifetime))
        return token

    def refresh_token(self, grant_id: str) -> str:
        """A refresh token for a grant made with grant(), for tests that start with an account already connected."""
        token = "rt-" + secrets.token_urlsafe(24)
        self.refresh_tokens[token] = RefreshToken(grant_id, self.client_id)
        return token

    def revoke(self, grant_id: str) -> None:
        """Its access tokens go inactive at /introspect and /userinfo, its refresh tokens get invalid_grant."""
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

    async def authorize(self, request: web.Request) -> web.Response:
        """RFC 6749 section 4.1.1 with RFC 7636 section 4.3. Errors about the client or its redirection URI are
        shown to the user (400), never redirected (section 4.1.2.1); the others go back to the client."""
        query = dict(request.query)
        self.last_authorize = query
        if query.get("client_id") != self.client_id:
            return error_response("invalid_client", "unknown client_id")
        redirect_uri = query.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https") or urlsplit(redirect_uri).fragment:
            return error_response("invalid_request", "redirect_uri must be an absolute http(s) URI with no fragment")
        state = {"state": query["state"]} if "state" in query else {}
        if query.get("response_type") != "code":
            params = {"error": "unsupported_response_type", "error_description": "only response_type=code"}
            raise web.HTTPFound(with_query(redirect_uri, params | state))
        challenge = query.get("code_challenge", "")
        if query.get("code_challenge_method") != "S256" or len(challenge) != 43 or not PKCE_VALUE.fullmatch(challenge):
            return error_response("invalid_request", "PKCE is required, with code_challenge_method=S256")
        username = self.consenting_user or query.get("login_hint")
        if not username:
            return error_response("invalid_request", "nobody to consent: set consenting_user or send login_hint")
        if self.deny:
            params = {"error": "access_denied", "error_description": "the user refused"}
            raise web.HTTPFound(with_query(redirect_uri, params | state))
        grant_id = self.grant(username, scope=query.get("scope", ""))
        code = "ac-" + secrets.token_urlsafe(24)
        self.codes[code] = AuthorizationCode(
            grant_id, self.client_id, redirect_uri, challenge, time.monotonic() + CODE_LIFETIME, query.get("nonce")
        )
        raise web.HTTPFound(with_query(redirect_uri, {"code": code} | state))

    def authenticate_client(self, request: web.Request, form: dict[str, str]) -> str:
        """RFC 6749 section 2.3.1: HTTP Basic, the id and secret form-urlencoded first, or the two as form fields;
        not both (section 2.3). A client_id beside Basic is allowed (section 4.1.3), if it is the same one."""
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            if "client_secret" in form:
                raise TokenError("invalid_request", "client authenticated by more than one method")
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as error:
                raise TokenError("invalid_client", "malformed Basic credentials", 401) from error
            client_id, _, client_secret = decoded.partition(":")
            client_id, client_secret = unquote_plus(client_id), unquote_plus(client_secret)
            if "client_id" in form and form["client_id"] != client_id:
                raise TokenError("invalid_client", "client_id differs from the authenticated client", 401)
        else:
            client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if not (
            secrets.compare_digest(client_id, self.client_id)
            and secrets.compare_digest(client_secret, self.client_secret)
        ):
            raise TokenError("invalid_client", "client authentication failed", 401)
        return client_id

    async def token(self, request: web.Request) -> web.Response:
        form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            self.refresh_attempts += 1
        if self.unavailable > 0:
            self.unavailable -= 1
            return error_response("temporarily_unavailable", "the authorization server is down for a while", 503)
        try:
            client_id = self.authenticate_client(request, form)
            if grant_type == "authorization_code":
                body = self.exchange_code(client_id, form)
            elif grant_type == "refresh_token":
                if self.token_delay:
                    await asyncio.sleep(self.token_delay)
                body = self.refresh(client_id, form)
            else:
                raise TokenError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        except TokenError as error:
            # RFC 6749 section 5.2: a client that tried the Authorization header is answered with its scheme.
            basic = request.headers.get("Authorization", "")[:6].lower() == "basic "
            headers = {"WWW-Authenticate": 'Basic realm="token"'} if error.status == 401 and basic else None
            return error_response(error.error, error.description, error.status, headers)
        # RFC 6749 section 5.1: responses carrying tokens must not be cached.
        return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def exchange_code(self, client_id: str, form: dict[str, str]) -> dict[str, str | int]:
        """RFC 6749 section 4.1.3 and RFC 7636 section 4.6."""
        code = self.codes.get(form.get("code", ""))
        if code is None:
            raise TokenError("invalid_grant", "unknown authorization code")
        if code.used:
            # RFC 6749 section 4.1.2: a code used twice revokes the tokens it already gave.
            self.revoke(code.grant_id)
            raise TokenError("invalid_grant", "authorization code already used; its grant is revoked")
        if time.monotonic() >= code.expires:
            raise TokenError("invalid_grant", "authorization code expired")
        if code.client_id != client_id:
            raise TokenError("invalid_grant", "authorization code was issued to another client")
        if form.get("redirect_uri") != code.redirect_uri:
            raise TokenError("invalid_grant", "redirect_uri differs from the authorization request's")
        verifier = form.get("code_verifier", "")
        if not PKCE_VALUE.fullmatch(verifier):
            raise TokenError("invalid_grant", "code_verifier must be 43 to 128 unreserved characters")
        if not secrets.compare_digest(s256(verifier), code.code_challenge):
            raise TokenError("invalid_grant", "code_verifier does not match the code_challenge")
        grant = self.grants[code.grant_id]
        if grant.revoked:
            raise TokenError("invalid_grant", "the grant was revoked")
        code.used = True
        now = int(time.time())
        claims: dict[str, str | int] = {
            "iss": self.base_url,
            "sub": code.grant_id,
            "aud": client_id,
            "email": grant.username,
            "preferred_username": grant.username,
            "iat": now,
            "exp": now + 3600,
        }
        if code.nonce is not None:
            claims["nonce"] = code.nonce  # OpenID Connect Core section 2: echoed from the authentication request
        body = self.token_body(code.grant_id, client_id)
        body["id_token"] = jwt.encode(claims, ID_TOKEN_KEY, algorithm="HS256")
        return body

    def refresh(self, client_id: str, form: dict[str, str]) -> dict[str, str | int]:
        """RFC 6749 section 6, with the rotation and reuse detection of RFC 9700 section 4.14.2."""
        presented = self.refresh_tokens.get(form.get("refresh_token", ""))
        if presented is None:
            raise TokenError("invalid_grant", "unknown refresh token")
        if presented.client_id != client_id:
            raise TokenError("invalid_grant", "refresh token was issued to another client")
        grant = self.grants[presented.grant_id]
        if presented.spent:
            self.revoke(presented.grant_id)
            raise TokenError("invalid_grant", "refresh token already used; its grant is revoked")
        if grant.revoked:
            raise TokenError("invalid_grant", "the grant was revoked")
        if "scope" in form and not set(form["scope"].split()) <= set(grant.scope.split()):
            raise TokenError("invalid_scope", "a refresh may not widen the scope granted")
        presented.spent = True
        self.refreshes += 1
        return self.token_body(presented.grant_id, client_id)

    def token_body(self, grant_id: str, client_id: str) -> dict[str, str | int]:
        refresh_token = "rt-" + secrets.token_urlsafe(24)
        self.refresh_tokens[refresh_token] = RefreshToken(grant_id, client_id)
        return {
            "access_token": self.access_token(grant_id),
            "token_type": "Bearer",
            "expires_in": int(self.lifetime),
            "refresh_token": refresh_token,
            "scope": self.grants[grant_id].scope,
        }

    async def userinfo(self, request: web.Request) -> web.Response:
        """OpenID Connect Core section 5.3, with RFC 6750 section 3.1's answer to a bad token."""
        header = request.headers.get("Authorization", "")
        grant = self.active(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if grant is None:
            challenge = 'Bearer error="invalid_token"' if header else "Bearer"
            return error_response("invalid_token", "no active access token", 401, {"WWW-Authenticate": challenge})
        grant_id = self.tokens[header[7:].strip()][0]
        return web.json_response({"sub": grant_id, "email": grant.username})


@asynccontextmanager
async def serving(port: int, server: AuthorizationServer | None = None) -> AsyncIterator[AuthorizationServer]:
    """Port 0 takes a free port; base_url tells which."""
    server = server or AuthorizationServer()
    app = web.Application()
    app.router.add_post("/introspect", server.introspect)
    app.router.add_get("/authorize", server.authorize)
    app.router.add_post("/token", server.token)
    app.router.add_get("/userinfo", server.userinfo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


@contextmanager
def serving_apart(port: int, server: AuthorizationServer | None = None) -> Iterator[AuthorizationServer]:
    """`serving` on an event loop of its own, in a thread: for tests whose app runs on another loop that the test
    blocks on while it waits for an answer (Litestar's test client does), which would stall a server on the test's
    own loop."""
    server = server or AuthorizationServer()
    loop = asyncio.new_event_loop()
    started, stop = threading.Event(), asyncio.Event()
    failure: list[BaseException] = []

    async def run() -> None:
        try:
            async with serving(port, server):
                started.set()
                await stop.wait()
        except BaseException as error:  # noqa: BLE001 (handed to the test's thread, which raises it)
            failure.append(error)
            started.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    started.wait(10)
    if failure:
        raise failure[0]
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
