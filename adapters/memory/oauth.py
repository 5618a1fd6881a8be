"""A scripted OAuth2 provider for use-case tests: it issues tokens, rotates refresh tokens and can revoke."""

import asyncio
import hashlib
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from domain.errors import MailServerRejected
from domain.oauth import GrantRefused, IssuedTokens, OAuthProvider
from domain.ports.oauth import OAuthProviders
from domain.ports.runtime import Clock


@dataclass
class ScriptedOAuthProviders(OAuthProviders):
    clock: Clock
    providers: dict[str, OAuthProvider] = field(default_factory=dict)
    lifetime: timedelta = timedelta(hours=1)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    """live refresh token -> the mailbox it signs in"""
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """authorization code -> (mailbox, PKCE challenge)"""
    refreshes: int = 0
    unavailable: int = 0
    """While above 0, token calls fail as an outage would (and count it down)."""
    gate: asyncio.Event | None = None
    """When set, a refresh waits for it: the provider's answer is still on its way."""

    def get(self, name: str) -> OAuthProvider | None:
        return self.providers.get(name)

    def authorization_url(self, provider: str, state: str, code_challenge: str, login_hint: str | None) -> str:
        query = {"state": state, "code_challenge": code_challenge, "login_hint": login_hint or ""}
        return f"https://{provider}.example/authorize?{urlencode(query)}"

    def consent(self, email: str, code_challenge: str) -> str:
        """The user signs in as `email`: the code the provider would send back."""
        code = secrets.token_urlsafe(8)
        self.codes[code] = (email, code_challenge)
        return code

    def issue(self, email: str) -> IssuedTokens:
        refresh = "rt-" + secrets.token_urlsafe(8)
        self.refresh_tokens[refresh] = email
        return IssuedTokens("at-" + secrets.token_urlsafe(8), refresh, self._expiry(), email)

    def revoke(self, email: str) -> None:
        self.refresh_tokens = {t: e for t, e in self.refresh_tokens.items() if e != email}

    async def exchange(self, provider: str, code: str, code_verifier: str) -> IssuedTokens:
        email, challenge = self.codes.pop(code, ("", ""))
        s256 = urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
        if not email or s256 != challenge:  # RFC 7636 section 4.6
            raise GrantRefused("invalid_grant: the code is unknown, used or not for this verifier")
        return self.issue(email)

    async def refresh(self, provider: str, refresh_token: str) -> IssuedTokens:
        if self.gate is not None:
            await self.gate.wait()
        if self.unavailable > 0:
            self.unavailable -= 1
            raise MailServerRejected("oauth2", f"{provider}: token endpoint answered 503")
        email = self.refresh_tokens.pop(refresh_token, None)  # rotated: the old one is spent
        if email is None:
            raise GrantRefused("invalid_grant: the refresh token is revoked or spent")
        self.refreshes += 1
        return self.issue(email)

    def _expiry(self) -> datetime:
        return self.clock.now() + self.lifetime
