from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from domain.accounts import EncryptedSecret
from domain.auth import IssuedToken, TokenClaims
from domain.tenants import Role


class PasswordHasher(Protocol):
    """A memory-hard hash of user passwords; both calls are slow on purpose."""

    async def hash(self, password: str) -> str: ...
    async def verify(self, password: str, password_hash: str) -> bool: ...


class CredentialCipher(Protocol):
    """Encrypts mail-server passwords at rest; decrypts with any configured key, encrypts with the current one."""

    @property
    def current_key_id(self) -> str: ...

    def encrypt(self, plaintext: str, bound_to: str) -> EncryptedSecret:
        """Encrypts with the current key, bound to `bound_to` (`secret_binding`)."""
        ...

    def decrypt(self, secret: EncryptedSecret) -> str:
        """Raises DependencyUnavailable for an unknown key or a secret that fails authentication, including one
        that was moved from where it was bound."""
        ...

    def is_current(self, secret: EncryptedSecret) -> bool:
        """The secret is under the current key and bound to where it is stored: key rotation leaves it alone."""
        ...


class TokenIssuer(Protocol):
    """Short-lived access tokens that carry who the caller is, so that checking one needs no database."""

    def issue(self, user_id: UUID, tenant_id: UUID, role: Role, session_id: UUID) -> IssuedToken: ...

    def verify(self, token: str) -> TokenClaims:
        """Raises AuthenticationFailed for a token that is forged, expired, not yet valid or not ours."""
        ...


class RevokedSessions(Protocol):
    """Sessions ended before their access tokens expire (logout, a password or role change, a disabled or deleted
    user). Read on every request, so kept out of the database: Redis where the deployment has it, the process's
    memory otherwise. An entry is kept as long as an access token lives; after that the token has expired anyway,
    and the session's refresh tokens are refused by the database, which stays the truth."""

    async def revoke(self, session_ids: Sequence[UUID]) -> None: ...

    async def is_revoked(self, session_id: UUID) -> bool: ...
