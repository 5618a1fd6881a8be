import ssl

import aiosmtplib

from adapters.network import OutboundPolicy
from domain.accounts import Security, ServerSettings
from domain.errors import MailServerRejected
from domain.ports.mail import MailSender


class SmtpMailSender(MailSender):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def verify_login(self, server: ServerSettings, password: str) -> None:
        await self._policy.check_host("smtp", server.host, server.port)
        client = self._client(server)
        try:
            await client.connect()
            await client.login(server.username, password)
        except aiosmtplib.SMTPResponseException as error:
            raise MailServerRejected("smtp", f"{error.code} {error.message}") from None
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as error:
            raise MailServerRejected("smtp", str(error) or type(error).__name__) from None
        finally:
            if client.is_connected:
                client.close()

    def _client(self, server: ServerSettings) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.security is Security.SSL,
            start_tls=server.security is Security.STARTTLS,
            tls_context=self._policy.tls_context(),
            timeout=self._policy.timeout,
        )
