from dataclasses import dataclass, field

from domain.accounts import ServerSettings
from domain.drafts import Envelope
from domain.errors import DeliveryFailed, MailServerRejected
from domain.ports.mail import ImapLoginCheck, MailSender


@dataclass
class ScriptedMailServers:
    """The logins that fake IMAP and SMTP servers accept: (host, username) -> password."""

    logins: dict[tuple[str, str], str] = field(default_factory=dict)
    attempts: list[tuple[str, str, str]] = field(default_factory=list)
    sent: list["SentMail"] = field(default_factory=list)
    send_failures: list[DeliveryFailed] = field(default_factory=list)
    """Raised by the next sends, one each, before any is accepted."""

    def accept(self, host: str, username: str, password: str) -> None:
        self.logins[(host, username)] = password

    def login(self, protocol: str, server: ServerSettings, password: str) -> None:
        self.attempts.append((protocol, server.host, server.username))
        if self.logins.get((server.host, server.username)) != password:
            raise MailServerRejected(protocol, "authentication failed")


class ScriptedImapLoginCheck(ImapLoginCheck):
    def __init__(self, servers: ScriptedMailServers) -> None:
        self._servers = servers

    async def verify_login(self, server: ServerSettings, password: str) -> None:
        self._servers.login("imap", server, password)


class ScriptedMailSender(MailSender):
    def __init__(self, servers: ScriptedMailServers) -> None:
        self._servers = servers

    async def verify_login(self, server: ServerSettings, password: str) -> None:
        self._servers.login("smtp", server, password)

    async def send(self, server: ServerSettings, password: str, envelope: Envelope, message: bytes) -> str:
        try:
            self._servers.login("smtp", server, password)
        except MailServerRejected as error:
            raise DeliveryFailed(f"535 {error.reason}", permanent=True) from None
        if self._servers.send_failures:
            raise self._servers.send_failures.pop(0)
        self._servers.sent.append(SentMail(server.host, envelope, message))
        return f"250 2.0.0 Ok: queued as {len(self._servers.sent)}"


@dataclass(frozen=True, slots=True)
class SentMail:
    host: str
    envelope: Envelope
    message: bytes
