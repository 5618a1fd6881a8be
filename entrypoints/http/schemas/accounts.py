"""Mail account bodies. Request Structs reject unknown fields, so `id`, `tenant` or timestamps cannot be set."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from domain.accounts import MAX_ALIASES, EncryptedSecret, GrantStatus, MailAccount, Security, ServerSettings
from domain.oauth import MAX_TOKEN_LENGTH

Host = Annotated[str, msgspec.Meta(min_length=1, max_length=253, examples=["imap.example.com"])]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535, examples=[993])]
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024, description="write-only; never returned")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Work"])]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, examples=["alice@example.com"])]
SavesSent = Annotated[
    bool, msgspec.Meta(description="the SMTP server files sent mail in the Sent folder itself (as Gmail does)")
]
Aliases = Annotated[
    list[Email],
    msgspec.Meta(
        max_length=MAX_ALIASES, description="other addresses the account may send as; a draft's from must be one"
    ),
]
SyncInterval = Annotated[
    int, msgspec.Meta(ge=60, le=86400, description="seconds between scheduled syncs (new mail also arrives by IDLE)")
]


Token = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_TOKEN_LENGTH, description="write-only; never returned")
]


class OAuth2Auth(msgspec.Struct, forbid_unknown_fields=True, tag_field="type", tag="oauth2"):
    """Sign in with an OAuth2 access token (SASL XOAUTH2 or OAUTHBEARER) in place of a password: for an app that
    ran the provider's consent itself. Mailroom renews the access token with the refresh token before it expires.
    An account holds one grant: where both `imap` and `smtp` carry `auth`, it must be the same."""

    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["google"])]
    access_token: Token
    refresh_token: Token | None = None
    expires_at: Annotated[datetime, msgspec.Meta(tz=True, description="when the access token expires")] | None = None


class ServerIn(msgspec.Struct, forbid_unknown_fields=True):
    """`password` or `auth`, one of them."""

    host: Host
    port: Port
    security: Security
    username: Username
    password: Password | UnsetType = UNSET
    auth: OAuth2Auth | UnsetType = UNSET


class ServerReplace(msgspec.Struct, forbid_unknown_fields=True):
    """As ServerIn, but the credentials may be left out to keep the stored ones (the same server only)."""

    host: Host
    port: Port
    security: Security
    username: Username
    password: Password | UnsetType = UNSET
    auth: OAuth2Auth | UnsetType = UNSET


class ServerPatch(msgspec.Struct, forbid_unknown_fields=True):
    host: Host | UnsetType = UNSET
    port: Port | UnsetType = UNSET
    security: Security | UnsetType = UNSET
    username: Username | UnsetType = UNSET
    password: Password | UnsetType = UNSET
    auth: OAuth2Auth | UnsetType = UNSET


class MailAccountCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    email: Email
    imap: ServerIn
    smtp: ServerIn
    sync_interval_seconds: SyncInterval = 300
    server_saves_sent: SavesSent = False
    aliases: Aliases = msgspec.field(default_factory=list)


class MailAccountReplace(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    email: Email
    imap: ServerReplace
    smtp: ServerReplace
    sync_interval_seconds: SyncInterval | UnsetType = UNSET
    server_saves_sent: SavesSent | UnsetType = UNSET
    aliases: Aliases | UnsetType = UNSET


class MailAccountPatch(msgspec.Struct, forbid_unknown_fields=True):
    owner_id: (
        Annotated[UUID, msgspec.Meta(description="give the account to another user (admins only)")] | UnsetType
    ) = UNSET
    name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    imap: ServerPatch | UnsetType = UNSET
    smtp: ServerPatch | UnsetType = UNSET
    sync_interval_seconds: SyncInterval | UnsetType = UNSET
    server_saves_sent: SavesSent | UnsetType = UNSET
    aliases: Aliases | UnsetType = UNSET


class ServerOut(msgspec.Struct):
    host: str
    port: int
    security: Security
    username: str
    auth: Annotated[Literal["password", "oauth2"], msgspec.Meta(description="how it signs in")]

    @classmethod
    def of(cls, server: ServerSettings, password: EncryptedSecret | None) -> "ServerOut":
        auth: Literal["password", "oauth2"] = "password" if password is not None else "oauth2"
        return cls(host=server.host, port=server.port, security=server.security, username=server.username, auth=auth)


class OAuthOut(msgspec.Struct):
    """The account's OAuth2 grant, without its tokens."""

    provider: str
    reauth_required: Annotated[
        bool,
        msgspec.Meta(
            description="the provider refused to renew the grant: sync and sending are stopped (sends stay queued) "
            "until the user signs in again (`POST /api/oauth/{provider}/start`) or new tokens are given"
        ),
    ]
    expires_at: datetime | None

    @classmethod
    def of(cls, status: GrantStatus | None) -> "OAuthOut | None":
        return None if status is None else cls(status.provider, status.reauth_required, status.expires_at)


class MailAccountOut(msgspec.Struct):
    id: UUID
    name: str
    email: str
    imap: ServerOut
    smtp: ServerOut
    sync_interval_seconds: int
    server_saves_sent: bool
    aliases: list[str]
    owner_id: UUID | None
    created_at: datetime
    updated_at: datetime
    oauth: OAuthOut | None

    @classmethod
    def of(cls, account: MailAccount) -> "MailAccountOut":
        return cls(
            id=account.id,
            name=account.name,
            email=account.email,
            imap=ServerOut.of(account.imap, account.imap_password),
            smtp=ServerOut.of(account.smtp, account.smtp_password),
            sync_interval_seconds=account.sync_interval_seconds,
            server_saves_sent=account.server_saves_sent,
            aliases=list(account.aliases),
            owner_id=account.owner_id,
            created_at=account.created_at,
            updated_at=account.updated_at,
            oauth=OAuthOut.of(account.oauth),
        )


class MailAccountList(msgspec.Struct):
    items: list[MailAccountOut]
    total: int
