from datetime import timedelta

from domain.access import API_KEY_PREFIX, ApiKey
from domain.auth import Principal
from domain.errors import AuthenticationFailed, PermissionDenied
from domain.ports.persistence import TenantScope, UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import RevokedSessions, TokenIssuer

KEY_USE_RECORDED_EVERY = timedelta(minutes=1)
"""`last_used_at` of an API key is written at most this often: a write per request would cost more than the
request."""


class Authenticate:
    """Turns a bearer credential into a Principal: an access token, or an API key (`mr_...`).

    An access token is checked without the database: its signature and lifetime, then its session against the
    revocation list, which logout, password and role changes, and disabling or deleting the user fill. An API key
    is looked up by its digest with its user: a deleted key or user, a disabled user or an expired key is refused.
    `requested_tenant` is the optional X-Tenant-ID header: it must name the credential's tenant (by id or slug).
    """

    def __init__(
        self, uow: UnitOfWork, tokens: TokenIssuer, revoked: RevokedSessions, scope: TenantScope, clock: Clock
    ) -> None:
        self._uow = uow
        self._tokens = tokens
        self._revoked = revoked
        self._scope = scope
        self._clock = clock

    async def __call__(self, credential: str, requested_tenant: str | None = None) -> Principal:
        if credential.startswith(API_KEY_PREFIX):
            principal = await self._key(credential)
        else:
            claims = self._tokens.verify(credential)
            if await self._revoked.is_revoked(claims.session_id):
                raise AuthenticationFailed("this session has ended; log in again")
            principal = Principal(
                claims.user_id,
                claims.tenant_id,
                claims.role,
                session_id=claims.session_id,
                expires_at=claims.expires_at,
            )
        if requested_tenant is not None and requested_tenant != str(principal.tenant_id):
            await self._check_slug(principal, requested_tenant)
        return principal

    async def _key(self, secret: str) -> Principal:
        now = self._clock.now()
        with self._scope.system():  # the key names its tenant only once found
            async with self._uow as uow:
                found = await uow.api_keys.find(ApiKey.digest_of(secret))
        if found is None:
            raise AuthenticationFailed("invalid API key")
        key, user = found
        if user.disabled or key.expired(now) or user.tenant_id != key.tenant_id:
            raise AuthenticationFailed("invalid API key")
        if key.last_used_at is None or now - key.last_used_at >= KEY_USE_RECORDED_EVERY:
            with self._scope(key.tenant_id):
                async with self._uow as uow:
                    await uow.api_keys.touch(key.id, now)
                    await uow.commit()
        return Principal(user.id, user.tenant_id, user.role, scopes=key.scopes, key_id=key.id)

    async def _check_slug(self, principal: Principal, requested_tenant: str) -> None:
        with self._scope(principal.tenant_id):
            async with self._uow as uow:
                tenant = await uow.tenants.get(principal.tenant_id)
        if tenant is None or requested_tenant != tenant.slug:
            raise PermissionDenied("X-Tenant-ID does not match the credential's tenant")


class StillSignedIn:
    """Whether a caller authenticated a while ago still is, as they were: for a long-lived answer such as the event
    stream. An access token must not have expired nor its session ended (a role change ends it); an API key must
    still exist, unexpired, with its user enabled and in the role the stream began with."""

    def __init__(self, uow: UnitOfWork, revoked: RevokedSessions, clock: Clock) -> None:
        self._uow = uow
        self._revoked = revoked
        self._clock = clock

    async def __call__(self, principal: Principal) -> bool:
        now = self._clock.now()
        if principal.expires_at is not None and now >= principal.expires_at:
            return False
        if principal.session_id is not None:
            return not await self._revoked.is_revoked(principal.session_id)
        if principal.key_id is None:
            return False
        async with self._uow as uow:
            key = await uow.api_keys.get(principal.tenant_id, principal.key_id)
            user = await uow.users.get(principal.user_id)
        if key is None or key.expired(now) or user is None:
            return False
        return not user.disabled and user.role is principal.role
