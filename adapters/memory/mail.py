from dataclasses import dataclass, field

from domain.accounts import MailLogin, ServerSettings
from domain.drafts import Envelope
from domain.errors import DeliveryFailed, LoginRefused
from domain.ports.mail import ImapLoginCheck, MailSender


@dataclass
class ScriptedMailServers:
    """The logins that fake IMAP and SMTP servers accept: (host, username) -> password or OAuth2 access token."""

    logins: dict[tuple[str, str], str] = field(default_factory=dict)
    attempts: list[tuple[str, str, str]] = field(default_factory=list)
    sent: list["SentMail"] = field(default_factory=list)
    send_failures: list[DeliveryFailed] = field(default_factory=list)
    """Raised by the next sends, one each, before any is accepted."""

    def accept(self, host: str, username: str, password: str) -> None:
        self.logins[(host, username)] = password

    def login(self, protocol: str, server: ServerSettings, login: MailLogin) -> None:
        self.attempts.append((protocol, server.host, server.username))
        if self.logins.get((server.host, server.username)) != login.secret:
            raise LoginRefused(protocol, "authentication failed")


class ScriptedImapLoginCheck(ImapLoginCheck):
    def __init__(self, servers: ScriptedMailServers) -> None:
        self._servers = servers

    async def verify_login(self, server: ServerSettings, login: MailLogin) -> None:
        self._servers.login("imap", server, login)


class ScriptedMailSender(MailSender):
    def __init__(self, servers: ScriptedMailServers) -> None:
        self._servers = servers

    async def verify_login(self, server: ServerSettings, login: MailLogin) -> None:
        self._servers.login("smtp", server, login)

    async def send(self, server: ServerSettings, login: MailLogin, envelope: Envelope, message: bytes) -> str:
        try:
            self._servers.login("smtp", server, login)
        except LoginRefused as error:
            raise DeliveryFailed(f"535 {error.reason}", permanent=True, login_refused=True) from None
        if self._servers.send_failures:
            raise self._servers.send_failures.pop(0)
        self._servers.sent.append(SentMail(server.host, envelope, message))
        return f"250 2.0.0 Ok: queued as {len(self._servers.sent)}"


@dataclass(frozen=True, slots=True)
class SentMail:
    host: str
    envelope: Envelope
    message: bytes
