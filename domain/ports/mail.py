from typing import Protocol

from domain.accounts import ServerSettings
from domain.parsed import ParsedMessage


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


class MessageParser(Protocol):
    def parse(self, raw: bytes) -> ParsedMessage:
        """Reads raw RFC 5322 bytes; never raises: what cannot be read is listed in `warnings`."""
        ...
