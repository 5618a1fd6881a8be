"""Fast stand-ins for the security ports, for tests only: none of them protects anything."""

import base64
import json
from datetime import UTC, datetime
from uuid import UUID

from domain.accounts import EncryptedSecret
from domain.auth import IssuedToken, TokenClaims
from domain.errors import AuthenticationFailed, DependencyUnavailable
from domain.ports.security import CredentialCipher, PasswordHasher, TokenIssuer
from domain.tenants import Role


class PlainPasswordHasher(PasswordHasher):
    async def hash(self, password: str) -> str:
        return "plain$" + password

    async def verify(self, password: str, password_hash: str) -> bool:
        return password_hash == "plain$" + password


class ReversibleCipher(CredentialCipher):
    """Base64 'encryption' that still honours key ids, so key rotation can be tested."""

    def __init__(self, current_key_id: str = "test-key", known_key_ids: tuple[str, ...] = ()) -> None:
        self._current = current_key_id
        self._known = {current_key_id, *known_key_ids}

    @property
    def current_key_id(self) -> str:
        return self._current

    def encrypt(self, plaintext: str, bound_to: str) -> EncryptedSecret:
        return EncryptedSecret(self._current, base64.b64encode(f"{bound_to}\0{plaintext}".encode()), bound_to)

    def decrypt(self, secret: EncryptedSecret) -> str:
        if secret.key_id not in self._known:
            raise DependencyUnavailable(f"no key with id {secret.key_id!r}")
        bound_to, _, plaintext = base64.b64decode(secret.ciphertext).decode().partition("\0")
        if bound_to != secret.bound_to:
            raise DependencyUnavailable(f"a secret under key {secret.key_id!r} failed authentication")
        return plaintext

    def is_current(self, secret: EncryptedSecret) -> bool:
        return secret.key_id == self._current


class OpaqueTokenIssuer(TokenIssuer):
    """Tokens that are plain JSON; it only rejects what it did not issue."""

    def __init__(self) -> None:
        self._issued: set[str] = set()

    def issue(self, user_id: UUID, tenant_id: UUID, role: Role, session_id: UUID) -> IssuedToken:
        claims = {"sub": str(user_id), "tenant": str(tenant_id), "role": role.value, "sid": str(session_id)}
        token = json.dumps(claims | {"n": len(self._issued)})
        self._issued.add(token)
        return IssuedToken(access_token=token, expires_in=3600)

    def verify(self, token: str) -> TokenClaims:
        if token not in self._issued:
            raise AuthenticationFailed("unknown token")
        claims = json.loads(token)
        return TokenClaims(
            user_id=UUID(claims["sub"]),
            tenant_id=UUID(claims["tenant"]),
            role=Role(claims["role"]),
            session_id=UUID(claims["sid"]),
            expires_at=datetime.max.replace(tzinfo=UTC),
        )
