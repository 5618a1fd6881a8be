"""Bodies of users, sessions, API keys and grants. Secrets (passwords, keys, refresh tokens) are write-only, but
for a new key and a session's tokens, answered once."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from domain.access import ApiKey, Grant, GrantAccess, Scope
from domain.tenants import Role, User

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, examples=["bob@acme.test"])]
NewPassword = Annotated[
    str, msgspec.Meta(max_length=1024, description="at least 10 characters and not one of the most common passwords")
]


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class LogoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    everywhere: Annotated[bool, msgspec.Meta(description="end every session of the user, not only this one")] = False


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(max_length=1024)]
    new_password: NewPassword


class MeOut(msgspec.Struct):
    user_id: str
    tenant_id: str
    role: str
    email: str
    credential: Annotated[str, msgspec.Meta(description="`session` (signed in) or `api_key`")]
    scopes: list[Scope]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: NewPassword
    role: Role = Role.MEMBER


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    role: Role | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET


class UserOut(msgspec.Struct):
    id: UUID
    email: str
    role: Role
    disabled: bool
    created_at: datetime | None

    @classmethod
    def of(cls, user: User) -> "UserOut":
        return cls(id=user.id, email=user.email, role=user.role, disabled=user.disabled, created_at=user.created_at)


class UserList(msgspec.Struct):
    items: list[UserOut]
    total: int


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["nightly archiver"])]
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=4)]
    expires_at: datetime | None = None


class ApiKeyOut(msgspec.Struct):
    id: UUID
    user_id: UUID
    name: str
    scopes: list[Scope]
    hint: Annotated[str, msgspec.Meta(description="the key's first characters, to tell keys apart")]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> "ApiKeyOut":
        return cls(
            id=key.id,
            user_id=key.user_id,
            name=key.name,
            scopes=sorted(key.scopes),
            hint=key.hint,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            expires_at=key.expires_at,
        )


class ApiKeyCreated(ApiKeyOut, kw_only=True):
    key: Annotated[str, msgspec.Meta(description="the key itself (`mr_...`): shown this once, never again")]


class ApiKeyList(msgspec.Struct):
    items: list[ApiKeyOut]


class GrantIn(msgspec.Struct, forbid_unknown_fields=True):
    access: GrantAccess


class GrantOut(msgspec.Struct):
    user_id: UUID
    access: GrantAccess
    granted_by: UUID | None
    granted_at: datetime

    @classmethod
    def of(cls, grant: Grant) -> "GrantOut":
        return cls(user_id=grant.user_id, access=grant.access, granted_by=grant.granted_by, granted_at=grant.granted_at)


class GrantList(msgspec.Struct):
    items: list[GrantOut]
