from dataclasses import dataclass, field

from domain.accounts import ServerSettings
from domain.errors import MailServerRejected
from domain.ports.mail import MailFetcher, MailSender


@dataclass
class ScriptedMailServers:
    """The logins that fake IMAP and SMTP servers accept: (host, username) -> password."""

    logins: dict[tuple[str, str], str] = field(default_factory=dict)
    attempts: list[tuple[str, str, str]] = field(default_factory=list)

    def accept(self, host: str, username: str, password: str) -> None:
        self.logins[(host, username)] = password

    def login(self, protocol: str, server: ServerSettings, password: str) -> None:
        self.attempts.append((protocol, server.host, server.username))
        if self.logins.get((server.host, server.username)) != password:
            raise MailServerRejected(protocol, "authentication failed")


class ScriptedMailFetcher(MailFetcher):
    def __init__(self, servers: ScriptedMailServers) -> None:
        self._servers = servers

    async def verify_login(self, server: ServerSettings, password: str) -> None:
        self._servers.login("imap", server, password)


class ScriptedMailSender(MailSender):
    def __init__(self, servers: ScriptedMailServers) -> None:
        self._servers = servers

    async def verify_login(self, server: ServerSettings, password: str) -> None:
        self._servers.login("smtp", server, password)
