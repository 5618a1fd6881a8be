"""Who is calling, and the tokens that say so."""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.access import ALL_SCOPES, MissingScope, Scope
from domain.errors import PermissionDenied
from domain.tenants import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, as every tenant-scoped use case receives it: a user signed in (`session_id`, every
    scope) or an API key acting as its user (`key_id`, the key's scopes)."""

    user_id: UUID
    tenant_id: UUID
    role: Role
    scopes: frozenset[Scope] = ALL_SCOPES
    session_id: UUID | None = None
    key_id: UUID | None = None
    expires_at: datetime | None = None
    """When the access token expires; None for an API key (it may expire too, checked where it is read)."""

    @property
    def is_admin(self) -> bool:
        """The admin role: reaches every account of the tenant (a key of an admin too, within its scopes)."""
        return self.role is Role.ADMIN

    @property
    def administers(self) -> bool:
        """May manage the tenant's users and keys: the admin role, and for an API key the `admin` scope."""
        return self.is_admin and Scope.ADMIN in self.scopes

    def require_scope(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise MissingScope(scope)

    def require_admin(self) -> None:
        """The admin role, and for an API key also the `admin` scope."""
        if not self.is_admin:
            raise PermissionDenied("only an admin of the tenant may do this")
        self.require_scope(Scope.ADMIN)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: UUID
    tenant_id: UUID
    role: Role
    session_id: UUID
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True, slots=True)
class SignedIn:
    """What a login or a refresh answers: a short-lived access token and the refresh token for the next one."""

    access: IssuedToken
    refresh_token: str = field(repr=False)
    session_id: UUID
