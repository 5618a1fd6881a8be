from domain.auth import Principal, TokenClaims
from domain.errors import AuthenticationFailed, PermissionDenied
from domain.ports.persistence import TenantScope, UnitOfWork
from domain.ports.security import TokenIssuer


class Authenticate:
    """Turns a bearer token into a Principal.

    The user is looked up on every request so that a deleted user's tokens stop working at once, and only
    within the token's tenant: the claim is signed, and the look-up can then see no other tenant's users.
    `requested_tenant` is the optional X-Tenant-ID header: it must name the token's tenant (by id or slug).
    """

    def __init__(self, uow: UnitOfWork, tokens: TokenIssuer, scope: TenantScope) -> None:
        self._uow = uow
        self._tokens = tokens
        self._scope = scope

    async def __call__(self, token: str, requested_tenant: str | None = None) -> Principal:
        claims = self._tokens.verify(token)
        with self._scope(claims.tenant_id):
            return await self._principal(claims, requested_tenant)

    async def _principal(self, claims: TokenClaims, requested_tenant: str | None) -> Principal:
        async with self._uow as uow:
            user = await uow.users.get(claims.user_id)
            if user is None or user.tenant_id != claims.tenant_id:
                raise AuthenticationFailed("the token's user no longer exists")
            if requested_tenant is not None and requested_tenant != str(user.tenant_id):
                tenant = await uow.tenants.get(user.tenant_id)
                if tenant is None or requested_tenant != tenant.slug:
                    raise PermissionDenied("X-Tenant-ID does not match the token's tenant")
        return Principal(user_id=user.id, tenant_id=user.tenant_id, role=user.role)
