"""Who may see and do what within a tenant: roles, account ownership and grants, API key scopes, sessions.

A tenant is an organisation; its mail accounts belong to people. An `admin` reaches every account of the tenant; a
`member` reaches the accounts they own and those shared with them by a grant. Everything under an account
(folders, messages, threads, drafts, sends, sync, events) follows the account. An account the caller cannot
reach answers as if it did not exist (NotFound), like another tenant's; one the caller can see but not change
in the way asked answers PermissionDenied.
"""

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from uuid import UUID

from domain.errors import NotFound, PermissionDenied
from domain.validation import require_text

API_KEY_PREFIX = "mr_"
REFRESH_TOKEN_PREFIX = "mrr_"  # noqa: S105 - a format prefix, not a secret
MAX_API_KEYS_PER_USER = 50


class GrantAccess(StrEnum):
    """What a grant gives: `read` to read and search; `full` also to flag, move, delete and send."""

    READ = "read"
    FULL = "full"


class Reach(IntEnum):
    """How far a caller reaches into one account, ordered: each level allows what the lower ones do."""

    READ = 1
    """Read and search its folders, messages and threads; see its sync status and ask for a sync."""
    FULL = 2
    """Also change flags, move and delete messages, write drafts and send."""
    MANAGE = 3
    """Also change or delete the account and share it: its owner and the tenant's admins."""

    @classmethod
    def of_grant(cls, access: GrantAccess) -> "Reach":
        return cls.FULL if access is GrantAccess.FULL else cls.READ


class Scope(StrEnum):
    """What an API key may do, on top of what its user may do. A session (a signed-in user) has every scope."""

    READ = "read"
    WRITE = "write"
    SEND = "send"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)


class MissingScope(PermissionDenied):
    """An API key was used for something its scopes do not cover; `scope` is the one it lacks."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(f"this API key lacks the `{scope}` scope")
        self.scope = scope


@dataclass(frozen=True, slots=True)
class AccountReach:
    """The accounts a caller reaches and how far. `everything` (an admin) reaches every account of the tenant at
    MANAGE; otherwise `accounts` lists them (owned: MANAGE, granted: READ or FULL)."""

    everything: bool
    accounts: Mapping[UUID, Reach] = field(default_factory=dict)

    def of(self, account_id: UUID) -> Reach | None:
        return Reach.MANAGE if self.everything else self.accounts.get(account_id)

    def require(self, account_id: UUID, needed: Reach, what: str = "mail account") -> None:
        """NotFound when the account is out of reach, as if it did not exist; PermissionDenied when it is seen but
        `needed` is more than the caller has."""
        reach = self.of(account_id)
        if reach is None:
            raise NotFound(f"{what} not found")
        if reach < needed:
            raise PermissionDenied(_DENIED[needed])

    @property
    def account_ids(self) -> frozenset[UUID] | None:
        """The accounts reached; None for every account of the tenant."""
        return None if self.everything else frozenset(self.accounts)


EVERYTHING = AccountReach(everything=True)

_DENIED = {
    Reach.READ: "no access to this mail account",
    Reach.FULL: "this mail account is shared with you read-only",
    Reach.MANAGE: "only the account's owner or an admin may change, share or delete it",
}


@dataclass(frozen=True, slots=True)
class Grant:
    tenant_id: UUID
    account_id: UUID
    user_id: UUID
    access: GrantAccess
    granted_by: UUID | None
    granted_at: datetime


def _digest(secret: str) -> str:
    """SHA-256 is enough for a secret of 32 random bytes: nothing to guess, so no slow hash is needed, and the
    look-up by digest stays one index probe."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An automation's credential: acts as `user_id`, limited to `scopes`. Only a digest of the key is kept."""

    id: UUID
    tenant_id: UUID
    user_id: UUID
    name: str
    scopes: frozenset[Scope]
    digest: str = field(repr=False)
    hint: str
    """The key's first characters, so a person can tell their keys apart; not enough to use it."""
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @staticmethod
    def new_secret() -> str:
        """`mr_` and 32 random bytes, base64url: recognisable by secret scanners, never guessable."""
        return API_KEY_PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def digest_of(secret: str) -> str:
        return _digest(secret)


def require_key_name(name: str) -> str:
    return require_text("name", name, max_length=100)


@dataclass(frozen=True, slots=True)
class Session:
    """A sign-in: the family of refresh tokens that came from one login. Revoking it ends its refresh tokens at
    once, and its access tokens as soon as the revocation list is read (within a request)."""

    id: UUID
    tenant_id: UUID
    user_id: UUID
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """One refresh token of a session, kept as a digest. A refresh uses it up and issues the next; presenting a
    used one again means it was copied (RFC 9700 section 4.14.2): the whole session is revoked."""

    digest: str = field(repr=False)
    session_id: UUID
    tenant_id: UUID
    user_id: UUID
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    @staticmethod
    def new_secret() -> str:
        return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def digest_of(secret: str) -> str:
        return _digest(secret)
