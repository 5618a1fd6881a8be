from application.audit import Auditor
from application.auth.sessions import Sessions
from application.limits import LimitRequests
from domain.audit import AuditAction
from domain.auth import SignedIn
from domain.errors import AuthenticationFailed, InvalidInput
from domain.ports.persistence import UnitOfWork
from domain.ports.security import PasswordHasher
from domain.tenants import Tenant, User, normalise_email, require_slug


class Login:
    """Exchanges a tenant, email and password for a new session: an access token and a refresh token.

    Every failure answers the same way, and an unknown user still costs one password hash and the same counting,
    so neither the message nor the timing tells which part was wrong. Failed logins are limited per client
    address and per account (application.limits): a client past its limit is refused before the password is
    looked at, so its guessing stops even on the right password, while the user it guessed at can still log in
    from elsewhere. A disabled user is refused like a wrong password, after the password is checked.
    """

    def __init__(
        self, uow: UnitOfWork, hasher: PasswordHasher, sessions: Sessions, limits: LimitRequests, auditor: Auditor
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._sessions = sessions
        self._limits = limits
        self._auditor = auditor

    async def __call__(
        self, tenant_slug: str, email: str, password: str, client_address: str | None = None
    ) -> SignedIn:
        attempt = await self._limits.for_login(client_address, tenant_slug, email)
        try:
            tenant, user = await self._find_user(tenant_slug, email)
            if user is None:
                await self._hasher.hash(password)
            right = user is not None and await self._hasher.verify(password, user.password_hash)
        except BaseException:
            await attempt.withdraw()  # the password was never judged (the database failed): no failed guess
            raise
        if user is None or not right or user.disabled:
            await self._audit(AuditAction.LOGIN_FAILED, tenant, None, email)
            raise AuthenticationFailed("invalid tenant, email or password")
        await attempt.withdraw()
        async with self._uow as uow:
            signed_in = await self._sessions.start(uow, user)
            await self._auditor.record(uow, AuditAction.LOGIN_SUCCEEDED, user.tenant_id, user.id, user.email)
            await uow.commit()
        return signed_in

    async def _find_user(self, tenant_slug: str, email: str) -> tuple[Tenant | None, User | None]:
        try:
            slug, address = require_slug(tenant_slug), normalise_email(email)
        except InvalidInput:
            return None, None
        async with self._uow as uow:
            tenant = await uow.tenants.get_by_slug(slug)
            return tenant, await uow.users.get_by_email(tenant.id, address) if tenant else None

    async def _audit(self, action: AuditAction, tenant: Tenant | None, user: User | None, email: str) -> None:
        async with self._uow as uow:
            await self._auditor.record(uow, action, tenant.id if tenant else None, user.id if user else None, email)
            await uow.commit()
