"""Who is calling, and the tokens that say so."""

from dataclasses import dataclass
from uuid import UUID

from domain.tenants import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user, as every tenant-scoped use case receives it."""

    user_id: UUID
    tenant_id: UUID
    role: Role


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: UUID
    tenant_id: UUID


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int

    def __repr__(self) -> str:
        return f"IssuedToken(access_token=<redacted>, expires_in={self.expires_in})"
