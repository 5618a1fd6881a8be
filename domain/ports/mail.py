from typing import Protocol

from domain.accounts import ServerSettings


class MailFetcher(Protocol):
    """The IMAP side of a mail account."""

    async def verify_login(self, server: ServerSettings, password: str) -> None:
        """Connects and logs in; raises MailServerRejected with the server's reason."""
        ...


class MailSender(Protocol):
    """The SMTP side of a mail account."""

    async def verify_login(self, server: ServerSettings, password: str) -> None:
        """Connects and authenticates; raises MailServerRejected with the server's reason."""
        ...
