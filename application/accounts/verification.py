from domain.accounts import MailLogin, ServerSettings
from domain.ports.mail import ImapLoginCheck, MailSender


class LoginVerifier:
    """Logs in to an account's IMAP and SMTP servers before the account is saved (`?verify=true`), with a
    password or an OAuth2 access token alike."""

    def __init__(self, imap: ImapLoginCheck, sender: MailSender) -> None:
        self._imap = imap
        self._sender = sender

    async def __call__(
        self, imap: ServerSettings, imap_login: MailLogin, smtp: ServerSettings, smtp_login: MailLogin
    ) -> None:
        await self._imap.verify_login(imap, imap_login)
        await self._sender.verify_login(smtp, smtp_login)
