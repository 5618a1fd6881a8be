"""OAuth2 sign-in for mail accounts (Gmail, Microsoft 365, any provider): the grant an account holds, kept fresh.

A server that takes OAuth2 (SASL XOAUTH2, or OAUTHBEARER of RFC 7628) is given a short-lived access token in place
of a password. The token comes with a refresh token that buys the next one (RFC 6749 section 6); both are secrets
and are kept encrypted like passwords, bound to their account.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from domain.accounts import EncryptedSecret, Security
from domain.errors import DomainError, InvalidInput
from domain.validation import require_text

REFRESH_MARGIN = timedelta(minutes=2)
"""An access token this close to its expiry is renewed before use: a sync or a send can take a while, and a
server that checks the token at every command (Dovecot's oauth2 passdb does at login) must not see it expire."""
MAX_TOKEN_LENGTH = 8192
"""Google's and Microsoft's tokens are a few hundred to a few thousand characters; anything longer is not one."""


class GrantRefused(DomainError):
    """The authorization server refused a code or a refresh token for good (`invalid_grant`, RFC 6749 section 5.2)."""


@dataclass(frozen=True, slots=True)
class ServerDefaults:
    """Where a provider's mailboxes are served: the account's IMAP or SMTP settings, the username its email."""

    host: str
    port: int
    security: Security


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    """A provider the deployment is registered with (its client id and secret stay with the adapter)."""

    name: str
    imap: ServerDefaults | None = None
    smtp: ServerDefaults | None = None


@dataclass(frozen=True, slots=True)
class OAuthTokens:
    """Tokens as an app hands them over (`auth: {"type": "oauth2", ...}`) or a provider issues them."""

    provider: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        require_text("auth.provider", self.provider, max_length=64)
        require_text("auth.access_token", self.access_token, max_length=MAX_TOKEN_LENGTH)
        if self.refresh_token is not None:
            require_text("auth.refresh_token", self.refresh_token, max_length=MAX_TOKEN_LENGTH)
        for name, token in (("access_token", self.access_token), ("refresh_token", self.refresh_token or "")):
            if not token.isprintable() or " " in token:
                raise InvalidInput(f"auth.{name}", "must be a token: printable, without spaces")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise InvalidInput("auth.expires_at", "must carry a time zone (RFC 3339)")


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """What a provider's token endpoint answered (RFC 6749 section 5.1). `refresh_token` is None when it kept the
    old one (no rotation); `email` is the signed-in mailbox, where the answer says it (OpenID Connect)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    email: str | None = None


@dataclass(slots=True)
class OAuthGrant:
    """An account's OAuth2 grant. One per account: both its IMAP and its SMTP side sign in with it where they use
    OAuth2 (a provider's refresh token rotates, so two copies of one would spend each other)."""

    account_id: UUID
    tenant_id: UUID
    provider: str
    access_token: EncryptedSecret
    refresh_token: EncryptedSecret | None
    expires_at: datetime | None
    updated_at: datetime
    reauth_required: bool = False
    """Set when the provider refused the refresh token for good: the account waits for its user to sign in again,
    and nothing is tried on its servers meanwhile."""
    renewing_until: datetime | None = None
    """A worker's claim to renew the access token (application.accounts.logins): the others wait for its answer."""
    renewed_at: datetime | None = None
    """When a worker last renewed the access token with the refresh token."""

    def fresh(self, now: datetime) -> bool:
        """The access token may be used as it is: no expiry given (it is used until a server refuses it), or not
        within REFRESH_MARGIN of it."""
        return self.expires_at is None or self.expires_at - REFRESH_MARGIN > now

    def renewed_within(self, now: datetime, window: timedelta) -> bool:
        return self.renewed_at is not None and now - self.renewed_at < window


def token_binding(account_id: UUID, which: str) -> str:
    """What a stored token is bound to (see EncryptedSecret): its account and `oauth_access` or `oauth_refresh`."""
    return f"mail_account:{account_id}:{which}"


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """What starting a sign-in with a provider carries through the user's browser and back (the `state`): who
    started it, for which account name, where to send the browser after, and the PKCE verifier (RFC 7636), which
    must stay secret from whoever sees the redirect, so the state is sealed, not only signed."""

    provider: str
    tenant_id: UUID
    user_id: UUID
    name: str
    email: str | None
    redirect_after: str | None
    code_verifier: str = field(repr=False)
    expires_at: datetime
