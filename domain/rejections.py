"""Why a mail server, or the OAuth2 provider that stands in for its login, turned a sync or a send away, in the
few kinds an operator acts on differently: a password changed, a grant revoked, a certificate expired, a server
down. Metrics count them by kind; the words stay in the account's `last_error` and the draft's `last_smtp_reply`."""

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import (
    ConnectionFailed,
    DeliveryFailed,
    LoginRefused,
    MailServerRejected,
    ReauthRequired,
    TlsFailed,
)


class RejectionKind(StrEnum):
    LOGIN_REFUSED = "login_refused"
    REAUTH_REQUIRED = "reauth_required"
    TLS = "tls"
    CONNECTION = "connection"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Rejection:
    protocol: str
    """imap, smtp or oauth2 (MailServerRejected.protocol)."""
    kind: RejectionKind


_KINDS: tuple[tuple[type[MailServerRejected], RejectionKind], ...] = (
    (ReauthRequired, RejectionKind.REAUTH_REQUIRED),
    (LoginRefused, RejectionKind.LOGIN_REFUSED),
    (TlsFailed, RejectionKind.TLS),
    (ConnectionFailed, RejectionKind.CONNECTION),
)


def rejection_of(error: MailServerRejected | DeliveryFailed) -> Rejection:
    if isinstance(error, DeliveryFailed):
        return Rejection("smtp", _delivery_kind(error))
    kind = next((kind for cls, kind in _KINDS if isinstance(error, cls)), RejectionKind.OTHER)
    return Rejection(error.protocol, kind)


def _delivery_kind(error: DeliveryFailed) -> RejectionKind:
    if error.login_refused:
        return RejectionKind.LOGIN_REFUSED
    if error.tls:
        return RejectionKind.TLS
    if error.connection:
        return RejectionKind.CONNECTION
    return RejectionKind.OTHER
