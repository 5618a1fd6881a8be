from adapters.imap.connection import close_imap, open_imap
from adapters.network import OutboundPolicy
from domain.accounts import MailLogin, ServerSettings
from domain.ports.mail import ImapLoginCheck


class AioimaplibLoginCheck(ImapLoginCheck):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def verify_login(self, server: ServerSettings, login: MailLogin) -> None:
        client = await open_imap(server, login, self._policy)
        await close_imap(client)
