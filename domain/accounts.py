"""Mail accounts: a tenant's IMAP/SMTP login, with its passwords (or its OAuth2 grant, domain.oauth) kept
encrypted."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import InvalidInput
from domain.validation import require_email, require_hostname, require_port, require_text

MIN_SYNC_INTERVAL = 60
MAX_ALIASES = 50
MAX_SYNC_INTERVAL = 24 * 3600


class Security(StrEnum):
    """Transport security: implicit TLS, STARTTLS upgrade (RFC 3207 / RFC 2595) or none."""

    SSL = "ssl"
    STARTTLS = "starttls"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Where and as whom to log in; `prefix` names the field path in errors (`imap`, `smtp`)."""

    host: str
    port: int
    security: Security
    username: str
    prefix: str = field(default="server", compare=False, repr=False)

    def __post_init__(self) -> None:
        require_hostname(f"{self.prefix}.host", self.host)
        require_port(f"{self.prefix}.port", self.port)
        require_text(f"{self.prefix}.username", self.username, max_length=320)


@dataclass(frozen=True, slots=True)
class EncryptedSecret:
    """A ciphertext and the id of the key that made it, so keys can rotate.

    `bound_to` names where the secret belongs (see `secret_binding`). The cipher authenticates it with the
    ciphertext, and the store sets it from the row it read: a ciphertext copied into another account's row, or from
    the IMAP into the SMTP column, no longer decrypts.
    """

    key_id: str
    ciphertext: bytes
    bound_to: str = ""

    def __repr__(self) -> str:
        return f"EncryptedSecret(key_id={self.key_id!r}, ciphertext=<{len(self.ciphertext)} bytes>)"


@dataclass(frozen=True, slots=True)
class MailLogin:
    """What an account signs in to a server with: its password (IMAP LOGIN, SMTP AUTH PLAIN/LOGIN), or, with
    `bearer`, an OAuth2 access token (SASL XOAUTH2, or OAUTHBEARER of RFC 7628)."""

    secret: str = field(repr=False)
    bearer: bool = False


@dataclass(frozen=True, slots=True)
class GrantStatus:
    """What its users see of an account's OAuth2 grant (domain.oauth): never the tokens."""

    provider: str
    reauth_required: bool
    expires_at: datetime | None


def secret_binding(account_id: UUID, field: str) -> str:
    """What a stored password is bound to: its account and its field (`imap_password`, `smtp_password`)."""
    return f"mail_account:{account_id}:{field}"


@dataclass(slots=True)
class MailAccount:
    id: UUID
    tenant_id: UUID
    name: str
    email: str
    imap: ServerSettings
    smtp: ServerSettings
    imap_password: EncryptedSecret | None
    """None: the IMAP side signs in with the account's OAuth2 grant (domain.oauth), not a password."""
    smtp_password: EncryptedSecret | None
    """None: as for IMAP."""
    created_at: datetime
    updated_at: datetime
    sync_interval_seconds: int = 300
    server_saves_sent: bool = False
    aliases: tuple[str, ...] = ()
    owner_id: UUID | None = None
    """The user whose account it is (domain.access); None only for an account whose owner was removed outside
    the API: then only admins reach it."""
    oauth: GrantStatus | None = None
    """Filled by the use cases that show an account to its users (application.accounts.read.with_grant_status),
    where a side signs in with OAuth2; the grant itself is read and written on its own (OAuthGrantRepository)."""

    @property
    def uses_oauth(self) -> bool:
        return self.imap_password is None or self.smtp_password is None

    @property
    def passwords(self) -> tuple[EncryptedSecret, ...]:
        return tuple(p for p in (self.imap_password, self.smtp_password) if p is not None)

    def may_send_as(self, address: str) -> bool:
        """A draft's From must be the account's own address or one of its aliases: the SMTP server is not
        trusted to stop a user of this service from writing as anyone (many relays do not check)."""
        wanted = address.lower()
        return wanted == self.email.lower() or any(wanted == alias.lower() for alias in self.aliases)

    def require_sender(self, address: str) -> None:
        if not self.may_send_as(address):
            raise InvalidInput("from.address", "must be the account's own address or one of its aliases")


@dataclass(frozen=True, slots=True)
class MailAccountDetails:
    """The user-editable part of an account, validated as one value."""

    name: str
    email: str
    imap: ServerSettings
    smtp: ServerSettings
    sync_interval_seconds: int = 300
    server_saves_sent: bool = False
    """The SMTP server files a copy of what it sends in the Sent folder itself (Gmail does): no APPEND."""
    aliases: tuple[str, ...] = ()
    """Other addresses the account may send as (RFC 5322 From), e.g. a shared or forwarded address."""

    def __post_init__(self) -> None:
        require_text("name", self.name, max_length=200)
        require_email("email", self.email)
        if len(self.aliases) > MAX_ALIASES:
            raise InvalidInput("aliases", f"at most {MAX_ALIASES} addresses")
        for index, alias in enumerate(self.aliases):
            require_email(f"aliases.{index}", alias)
        if not MIN_SYNC_INTERVAL <= self.sync_interval_seconds <= MAX_SYNC_INTERVAL:
            raise InvalidInput(
                "sync_interval_seconds", f"must be between {MIN_SYNC_INTERVAL} and {MAX_SYNC_INTERVAL} seconds"
            )

    @classmethod
    def of(cls, account: MailAccount) -> "MailAccountDetails":
        return cls(
            account.name,
            account.email,
            account.imap,
            account.smtp,
            account.sync_interval_seconds,
            account.server_saves_sent,
            account.aliases,
        )

    def apply_to(self, account: MailAccount) -> MailAccount:
        return replace(
            account,
            name=self.name,
            email=self.email,
            imap=self.imap,
            smtp=self.smtp,
            sync_interval_seconds=self.sync_interval_seconds,
            server_saves_sent=self.server_saves_sent,
            aliases=self.aliases,
        )


@dataclass(frozen=True, slots=True)
class TransportPolicy:
    """Which transport security a deployment accepts for its users' mail servers.

    `security: none` sends the mail password in clear over the network (LOGIN, AUTH PLAIN); a production
    deployment refuses it unless its operator allows it explicitly.
    """

    allow_plaintext: bool = True

    def check(self, details: MailAccountDetails) -> None:
        if self.allow_plaintext:
            return
        for server in (details.imap, details.smtp):
            if server.security is Security.NONE:
                raise InvalidInput(
                    f"{server.prefix}.security", "must be ssl or starttls: this server refuses unencrypted mail logins"
                )


PLAINTEXT_ALLOWED = TransportPolicy()
"""The policy of a development machine and of tests; the composition root passes the deployment's own."""
