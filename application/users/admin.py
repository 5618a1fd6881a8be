"""The tenant's admins manage its users. A tenant always keeps an admin who can sign in: the last one cannot be
demoted, disabled or deleted (Conflict), and these changes run one at a time per tenant (`tenants.lock`) so two
admins demoting each other at once cannot both succeed."""

from dataclasses import dataclass, field, replace
from uuid import UUID

from application.audit import Auditor
from application.auth.sessions import Sessions
from domain.audit import AuditAction
from domain.auth import Principal, SignedIn
from domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.passwords import require_good_password
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import PasswordHasher
from domain.tenants import Role, User, normalise_email


@dataclass(frozen=True, slots=True)
class UserChanges:
    role: Role | None = None
    disabled: bool | None = None


@dataclass(frozen=True, slots=True)
class InvitedUser:
    email: str
    password: str = field(repr=False)
    role: Role = Role.MEMBER


class ListUsers:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, page: PageRequest) -> Page[User]:
        principal.require_admin()
        async with self._uow as uow:
            return await uow.users.list(principal.tenant_id, page)


class GetUser:
    """The caller themselves (`/api/me`), or any user of the tenant for an admin."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, user_id: UUID | None = None) -> User:
        wanted = principal.user_id if user_id is None else user_id
        if wanted != principal.user_id:
            principal.require_admin()
        async with self._uow as uow:
            return await _user_of(uow, principal, wanted)


class CreateUser:
    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, clock: Clock, auditor: Auditor) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._auditor = auditor

    async def __call__(self, principal: Principal, new: InvitedUser) -> User:
        principal.require_admin()
        email = normalise_email(new.email)
        require_good_password(new.password, email=email)
        user = User(
            id=new_id(),
            tenant_id=principal.tenant_id,
            email=email,
            password_hash=await self._hasher.hash(new.password),
            role=new.role,
            created_at=self._clock.now(),
        )
        async with self._uow as uow:
            if await uow.users.get_by_email(principal.tenant_id, email) is not None:
                raise Conflict(f"{email} already has a login in this tenant")
            await uow.users.add(user)
            await self._auditor.record(uow, AuditAction.USER_CREATED, principal.tenant_id, principal.user_id, user.id)
            await uow.commit()
        return user


class UpdateUser:
    """A role change or disabling ends the user's sessions: their tokens carry the old role, and a disabled user
    must lose access at once. A disabled user's API keys stop working with them (checked on every use)."""

    def __init__(self, uow: UnitOfWork, sessions: Sessions, auditor: Auditor) -> None:
        self._uow = uow
        self._sessions = sessions
        self._auditor = auditor

    async def __call__(self, principal: Principal, user_id: UUID, changes: UserChanges) -> User:
        principal.require_admin()
        async with self._uow as uow:
            await uow.tenants.lock(principal.tenant_id)
            user = await _user_of(uow, principal, user_id)
            role = user.role if changes.role is None else changes.role
            disabled = user.disabled if changes.disabled is None else changes.disabled
            updated = replace(user, role=role, disabled=disabled)
            if updated == user:
                return user
            await _keep_an_admin(uow, user, updated)
            await uow.users.update(updated)
            if role != user.role or (disabled and not user.disabled):
                await self._sessions.end_user(uow, user)
            await self._auditor.record(uow, AuditAction.USER_UPDATED, principal.tenant_id, principal.user_id, user.id)
            await uow.commit()
        return updated


class DeleteUser:
    """The user's accounts go to `new_owner` (a user of the tenant who may sign in), or to the admin deleting
    them; their grants, sessions, API keys and webhooks go with them."""

    def __init__(self, uow: UnitOfWork, sessions: Sessions, auditor: Auditor) -> None:
        self._uow = uow
        self._sessions = sessions
        self._auditor = auditor

    async def __call__(self, principal: Principal, user_id: UUID, new_owner: UUID | None = None) -> None:
        principal.require_admin()
        async with self._uow as uow:
            await uow.tenants.lock(principal.tenant_id)
            user = await _user_of(uow, principal, user_id)
            await _keep_an_admin(uow, user, None)
            heir = principal.user_id if new_owner is None else new_owner
            if heir == user.id:
                raise InvalidInput("new_owner_id", "must be another user than the one deleted")
            heir_user = await uow.users.get(heir)
            if heir_user is None or heir_user.tenant_id != principal.tenant_id or heir_user.disabled:
                raise InvalidInput("new_owner_id", "must be an enabled user of this tenant")
            await uow.accounts.hand_over(principal.tenant_id, user.id, heir)
            await self._sessions.end_user(uow, user)
            await uow.users.delete(principal.tenant_id, user.id)
            await self._auditor.record(uow, AuditAction.USER_DELETED, principal.tenant_id, principal.user_id, user.id)
            await uow.commit()


async def _user_of(uow: UnitOfWork, principal: Principal, user_id: UUID) -> User:
    user = await uow.users.get(user_id)
    if user is None or user.tenant_id != principal.tenant_id:
        raise NotFound("user not found")
    return user


def _counts_as_admin(user: User | None) -> bool:
    return user is not None and user.role is Role.ADMIN and not user.disabled


async def _keep_an_admin(uow: UnitOfWork, before: User, after: User | None) -> None:
    if _counts_as_admin(before) and not _counts_as_admin(after) and await uow.users.count_admins(before.tenant_id) <= 1:
        raise Conflict("the tenant's last admin cannot be demoted, disabled or deleted; make another admin first")


class ChangePassword:
    """The current password proves it is the user (a stolen access token alone cannot change it). Every session of
    the user ends, the caller's included, and the caller gets a new one: other devices must sign in again."""

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, sessions: Sessions, auditor: Auditor) -> None:
        self._uow = uow
        self._hasher = hasher
        self._sessions = sessions
        self._auditor = auditor

    async def __call__(self, principal: Principal, current: str, new: str) -> SignedIn:
        if principal.session_id is None:
            raise PermissionDenied("a password is changed by its user signed in, not with an API key")
        async with self._uow as uow:
            user = await _user_of(uow, principal, principal.user_id)
        if not await self._hasher.verify(current, user.password_hash):
            raise InvalidInput("current_password", "is not your password")
        require_good_password(new, "new_password", email=user.email)
        if new == current:
            raise InvalidInput("new_password", "must differ from the current password")
        password_hash = await self._hasher.hash(new)
        async with self._uow as uow:
            stored = await _user_of(uow, principal, principal.user_id)
            if stored.password_hash != user.password_hash:
                raise Conflict("the password changed meanwhile; sign in again")
            await uow.users.update(replace(stored, password_hash=password_hash))
            await self._sessions.end_user(uow, stored)
            signed_in = await self._sessions.start(uow, stored)
            await self._auditor.record(
                uow, AuditAction.PASSWORD_CHANGED, principal.tenant_id, principal.user_id, principal.user_id
            )
            await uow.commit()
        return signed_in
