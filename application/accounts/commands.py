"""What callers send to the account use cases. Passwords and tokens stay out of every repr."""

from dataclasses import dataclass, field

from domain.accounts import MailAccountDetails, Security, ServerSettings
from domain.errors import InvalidInput
from domain.oauth import OAuthTokens
from domain.validation import require_mail_password


@dataclass(frozen=True, slots=True)
class ServerLogin:
    """A server and how to sign in to it: a password, or (`auth`) an OAuth2 grant's tokens."""

    host: str
    port: int
    security: Security
    username: str
    password: str | None = field(default=None, repr=False)
    auth: OAuthTokens | None = None

    def settings(self, prefix: str) -> ServerSettings:
        return ServerSettings(self.host, self.port, self.security, self.username, prefix=prefix)


def one_grant(imap: OAuthTokens | None, smtp: OAuthTokens | None) -> OAuthTokens | None:
    """The account's OAuth2 grant: where both sides use OAuth2 they must name the same one (a refresh token
    rotates, so two grants kept side by side would spend each other)."""
    if imap is not None and smtp is not None and imap != smtp:
        raise InvalidInput("smtp.auth", "must be the same grant as imap.auth: an account holds one OAuth2 grant")
    return imap or smtp


def _require_credentials(prefix: str, password: str | None, auth: OAuthTokens | None, *, required: bool) -> None:
    if password is not None and auth is not None:
        raise InvalidInput(f"{prefix}.auth", "give either a password or auth, not both")
    if password is not None:
        require_mail_password(f"{prefix}.password", password)
    elif auth is None and required:
        raise InvalidInput(f"{prefix}.password", "a password or auth (OAuth2) is required")


@dataclass(frozen=True, slots=True)
class NewMailAccount:
    name: str
    email: str
    imap: ServerLogin
    smtp: ServerLogin
    sync_interval_seconds: int = 300
    server_saves_sent: bool = False
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_credentials("imap", self.imap.password, self.imap.auth, required=True)
        _require_credentials("smtp", self.smtp.password, self.smtp.auth, required=True)
        one_grant(self.imap.auth, self.smtp.auth)

    @property
    def grant(self) -> OAuthTokens | None:
        return one_grant(self.imap.auth, self.smtp.auth)

    def details(self) -> MailAccountDetails:
        imap, smtp = self.imap.settings("imap"), self.smtp.settings("smtp")
        return MailAccountDetails(
            self.name, self.email, imap, smtp, self.sync_interval_seconds, self.server_saves_sent, self.aliases
        )


@dataclass(frozen=True, slots=True)
class ServerLoginChanges:
    """Fields left as None keep their stored value; a None password and auth keep the stored credentials."""

    host: str | None = None
    port: int | None = None
    security: Security | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    auth: OAuthTokens | None = None

    @property
    def new_credentials(self) -> bool:
        return self.password is not None or self.auth is not None

    def apply_to(self, current: ServerSettings) -> ServerSettings:
        """The settings after the change.

        A stored password (or access token) is only ever sent to the server it was entered for: when host, port,
        security or username change, the credentials must come again in the same request. Otherwise anyone who
        may edit the account could point it at a server of their own and have the stored secret sent there.
        """
        changed = ServerSettings(
            host=current.host if self.host is None else self.host,
            port=current.port if self.port is None else self.port,
            security=current.security if self.security is None else self.security,
            username=current.username if self.username is None else self.username,
            prefix=current.prefix,
        )
        if changed != current and not self.new_credentials:
            raise InvalidInput(
                f"{current.prefix}.password",
                "the password (or auth) must be given again when host, port, security or username change",
            )
        return changed


@dataclass(frozen=True, slots=True)
class MailAccountChanges:
    name: str | None = None
    email: str | None = None
    imap: ServerLoginChanges = ServerLoginChanges()
    smtp: ServerLoginChanges = ServerLoginChanges()
    sync_interval_seconds: int | None = None
    server_saves_sent: bool | None = None
    aliases: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for prefix, server in (("imap", self.imap), ("smtp", self.smtp)):
            _require_credentials(prefix, server.password, server.auth, required=False)
        one_grant(self.imap.auth, self.smtp.auth)

    def apply_to(self, current: MailAccountDetails) -> MailAccountDetails:
        interval = self.sync_interval_seconds
        return MailAccountDetails(
            name=current.name if self.name is None else self.name,
            email=current.email if self.email is None else self.email,
            imap=self.imap.apply_to(current.imap),
            smtp=self.smtp.apply_to(current.smtp),
            sync_interval_seconds=current.sync_interval_seconds if interval is None else interval,
            server_saves_sent=current.server_saves_sent if self.server_saves_sent is None else self.server_saves_sent,
            aliases=current.aliases if self.aliases is None else self.aliases,
        )
