from domain.auth import IssuedToken
from domain.errors import AuthenticationFailed, InvalidInput
from domain.ports.persistence import UnitOfWork
from domain.ports.security import PasswordHasher, TokenIssuer
from domain.tenants import User, normalise_email, require_slug


class Login:
    """Exchanges a tenant, email and password for an access token.

    Every failure answers the same way, and an unknown user still costs one password hash,
    so neither the message nor the timing tells which part was wrong.
    """

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, tokens: TokenIssuer) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens

    async def __call__(self, tenant_slug: str, email: str, password: str) -> IssuedToken:
        user = await self._find_user(tenant_slug, email)
        if user is None:
            await self._hasher.hash(password)
            raise AuthenticationFailed("invalid tenant, email or password")
        if not await self._hasher.verify(password, user.password_hash):
            raise AuthenticationFailed("invalid tenant, email or password")
        return self._tokens.issue(user.id, user.tenant_id)

    async def _find_user(self, tenant_slug: str, email: str) -> User | None:
        try:
            slug, address = require_slug(tenant_slug), normalise_email(email)
        except InvalidInput:
            return None
        async with self._uow as uow:
            tenant = await uow.tenants.get_by_slug(slug)
            return await uow.users.get_by_email(tenant.id, address) if tenant else None
