"""From request Structs to the use cases' commands."""

from typing import Any, TypeVar

from msgspec import UnsetType

from application.accounts.commands import MailAccountChanges, NewMailAccount, ServerLogin, ServerLoginChanges
from domain.oauth import OAuthTokens
from entrypoints.http.schemas.accounts import (
    MailAccountCreate,
    MailAccountPatch,
    MailAccountReplace,
    OAuth2Auth,
    ServerIn,
    ServerPatch,
    ServerReplace,
)

T = TypeVar("T")


def _given(value: T | UnsetType) -> T | None:
    return None if isinstance(value, UnsetType) else value


def new_account(body: MailAccountCreate) -> NewMailAccount:
    return NewMailAccount(
        body.name,
        body.email,
        _login(body.imap),
        _login(body.smtp),
        body.sync_interval_seconds,
        body.server_saves_sent,
        tuple(body.aliases),
    )


def account_changes(body: MailAccountReplace | MailAccountPatch) -> MailAccountChanges:
    imap = None if isinstance(body.imap, UnsetType) else body.imap
    smtp = None if isinstance(body.smtp, UnsetType) else body.smtp
    return MailAccountChanges(
        name=_given(body.name),
        email=_given(body.email),
        imap=_server_changes(imap) if imap else ServerLoginChanges(),
        smtp=_server_changes(smtp) if smtp else ServerLoginChanges(),
        sync_interval_seconds=_given(body.sync_interval_seconds),
        server_saves_sent=_given(body.server_saves_sent),
        aliases=None if isinstance(body.aliases, UnsetType) else tuple(body.aliases),
    )


def _login(server: ServerIn) -> ServerLogin:
    return ServerLogin(
        server.host, server.port, server.security, server.username, _given(server.password), _tokens(server.auth)
    )


def _server_changes(server: ServerReplace | ServerPatch) -> ServerLoginChanges:
    fields: dict[str, Any] = {
        name: _given(getattr(server, name)) for name in ("host", "port", "security", "username", "password")
    }
    return ServerLoginChanges(**fields, auth=_tokens(server.auth))


def _tokens(auth: OAuth2Auth | UnsetType) -> OAuthTokens | None:
    if isinstance(auth, UnsetType):
        return None
    return OAuthTokens(auth.provider, auth.access_token, auth.refresh_token, auth.expires_at)
