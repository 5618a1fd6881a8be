from typing import Protocol
from uuid import UUID

from domain.accounts import EncryptedSecret
from domain.auth import IssuedToken, TokenClaims


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
    def issue(self, user_id: UUID, tenant_id: UUID) -> IssuedToken: ...

    def verify(self, token: str) -> TokenClaims:
        """Raises AuthenticationFailed for a token that is forged, expired, not yet valid or not ours."""
        ...
