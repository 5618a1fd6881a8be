from domain.accounts import ServerSettings
from domain.ports.mail import ImapLoginCheck, MailSender


class LoginVerifier:
    """Logs in to an account's IMAP and SMTP servers before the account is saved (`?verify=true`)."""

    def __init__(self, imap: ImapLoginCheck, sender: MailSender) -> None:
        self._imap = imap
        self._sender = sender

    async def __call__(
        self, imap: ServerSettings, imap_password: str, smtp: ServerSettings, smtp_password: str
    ) -> None:
        await self._imap.verify_login(imap, imap_password)
        await self._sender.verify_login(smtp, smtp_password)
