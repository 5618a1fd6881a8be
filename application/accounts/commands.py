"""What callers send to the account use cases. Passwords stay out of every repr."""

from dataclasses import dataclass, field

from domain.accounts import MailAccountDetails, Security, ServerSettings
from domain.errors import InvalidInput
from domain.validation import require_mail_password


@dataclass(frozen=True, slots=True)
class ServerLogin:
    host: str
    port: int
    security: Security
    username: str
    password: str = field(repr=False)

    def settings(self, prefix: str) -> ServerSettings:
        return ServerSettings(self.host, self.port, self.security, self.username, prefix=prefix)


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
        require_mail_password("imap.password", self.imap.password)
        require_mail_password("smtp.password", self.smtp.password)

    def details(self) -> MailAccountDetails:
        imap, smtp = self.imap.settings("imap"), self.smtp.settings("smtp")
        return MailAccountDetails(
            self.name, self.email, imap, smtp, self.sync_interval_seconds, self.server_saves_sent, self.aliases
        )


@dataclass(frozen=True, slots=True)
class ServerLoginChanges:
    """Fields left as None keep their stored value; a None password keeps the stored password."""

    host: str | None = None
    port: int | None = None
    security: Security | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def apply_to(self, current: ServerSettings) -> ServerSettings:
        """The settings after the change.

        A stored password is only ever sent to the server it was entered for: when host, port, security or
        username change, the password must come again in the same request. Otherwise anyone who may edit the
        account could point it at a server of their own and have the stored password sent there.
        """
        changed = ServerSettings(
            host=current.host if self.host is None else self.host,
            port=current.port if self.port is None else self.port,
            security=current.security if self.security is None else self.security,
            username=current.username if self.username is None else self.username,
            prefix=current.prefix,
        )
        if changed != current and self.password is None:
            raise InvalidInput(
                f"{current.prefix}.password",
                "must be given again when host, port, security or username change",
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
            if server.password is not None:
                require_mail_password(f"{prefix}.password", server.password)

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
