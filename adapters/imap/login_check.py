from adapters.imap.connection import close_imap, open_imap
from adapters.network import OutboundPolicy
from domain.accounts import ServerSettings
from domain.ports.mail import ImapLoginCheck


class AioimaplibLoginCheck(ImapLoginCheck):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def verify_login(self, server: ServerSettings, password: str) -> None:
        client = await open_imap(server, password, self._policy)
        await close_imap(client)
