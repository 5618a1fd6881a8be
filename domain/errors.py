"""Domain errors. Adapters translate library exceptions into these; the HTTP edge maps each to one problem type."""


class DomainError(Exception):
    """Base of every error the domain and use cases raise on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing does not exist, or belongs to another tenant: callers cannot tell which."""


class Conflict(DomainError):
    """The change would break a uniqueness or state rule."""


class InvalidInput(DomainError):
    """A value breaks a domain rule; `field` names it with a dotted path such as `imap.port`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class AuthenticationFailed(DomainError):
    """Credentials or token are missing, wrong, expired or refer to no one."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""


class MailServerRejected(DomainError):
    """An IMAP or SMTP server refused us (login, connection, policy); `message` carries its reason."""

    def __init__(self, protocol: str, message: str) -> None:
        super().__init__(f"{protocol}: {message}")
        self.protocol = protocol
        self.reason = message


class LoginRefused(MailServerRejected):
    """The server refused the account's credentials themselves (IMAP NO to LOGIN or AUTHENTICATE, SMTP 535): for
    an OAuth2 access token, the sign to renew it and try once more (it may have been revoked early or be one the
    server counts as expired before its stated expiry)."""


class ReauthRequired(MailServerRejected):
    """The account's OAuth2 grant is gone for good (the provider answered `invalid_grant`, RFC 6749 section 5.2:
    revoked, expired, or the user changed their password): nothing is tried on its servers until its user signs
    in again."""

    def __init__(self, message: str = "the OAuth2 grant was revoked or has expired: sign in again") -> None:
        super().__init__("oauth2", message)


class TlsFailed(MailServerRejected):
    """TLS with the server failed: its certificate did not verify (expired, self-signed, issued for another name),
    the two sides share no protocol version or cipher, or the server does not offer STARTTLS. Told apart from a
    refused login because the fix is on the server (or in the CAs this deployment trusts), not in the account."""


class ConnectionFailed(MailServerRejected):
    """No conversation with the server: the connection was refused, dropped, or not answered in time."""


class DependencyUnavailable(DomainError):
    """A backing service (database, broker, cipher keys) cannot be used right now."""


class TooLarge(DomainError):
    """A message or upload is over the size the deployment allows."""


class DeliveryFailed(DomainError):
    """The SMTP server did not take the message. `permanent` (a 5xx reply) means trying again cannot help;
    otherwise (a 4xx reply, a dropped connection, a timeout) a later attempt may succeed."""

    def __init__(
        self, reply: str, *, permanent: bool, login_refused: bool = False, tls: bool = False, connection: bool = False
    ) -> None:
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent
        self.login_refused = login_refused
        """The server refused the credentials (SMTP 535, RFC 4954 section 6), before any mail was given."""
        self.tls = tls
        """TLS with the server failed (as TlsFailed)."""
        self.connection = connection
        """The connection was refused, dropped or timed out (as ConnectionFailed)."""
