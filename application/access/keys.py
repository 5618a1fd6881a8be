"""API keys: automations act as the user who made the key, limited to the key's scopes."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.audit import Auditor
from domain.access import MAX_API_KEYS_PER_USER, ApiKey, Scope, require_key_name
from domain.audit import AuditAction
from domain.auth import Principal
from domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.validation import in_utc


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    scopes: frozenset[Scope]
    expires_at: datetime | None = None


class CreateApiKey:
    """Returns the key and its secret, shown this once. A key gives no more than its maker has (`admin` only to an
    admin), and keys are made by a signed-in user: a key that could make keys could outlive its own expiry and
    deletion through them."""

    def __init__(self, uow: UnitOfWork, clock: Clock, auditor: Auditor) -> None:
        self._uow = uow
        self._clock = clock
        self._auditor = auditor

    async def __call__(self, principal: Principal, new: NewApiKey) -> tuple[ApiKey, str]:
        if principal.key_id is not None:
            raise PermissionDenied("API keys are made by a signed-in user, not with another key")
        name, now = require_key_name(new.name), self._clock.now()
        if Scope.ADMIN in new.scopes and not principal.is_admin:
            raise InvalidInput("scopes", "`admin` is for admins' keys only")
        expires_at = None if new.expires_at is None else in_utc("expires_at", new.expires_at)
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("expires_at", "must be in the future")
        secret = ApiKey.new_secret()
        key = ApiKey(
            id=new_id(),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            name=name,
            scopes=new.scopes,
            digest=ApiKey.digest_of(secret),
            hint=secret[:7],
            created_at=now,
            expires_at=expires_at,
        )
        async with self._uow as uow:
            if await uow.api_keys.count(principal.tenant_id, principal.user_id) >= MAX_API_KEYS_PER_USER:
                raise Conflict(f"at most {MAX_API_KEYS_PER_USER} API keys per user; delete one first")
            await uow.api_keys.add(key)
            await self._auditor.record(uow, AuditAction.KEY_CREATED, principal.tenant_id, principal.user_id, key.id)
            await uow.commit()
        return key, secret


class ListApiKeys:
    """The caller's keys; an admin's are the tenant's."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> list[ApiKey]:
        async with self._uow as uow:
            return await uow.api_keys.list(principal.tenant_id, None if principal.administers else principal.user_id)


class DeleteApiKey:
    """A member deletes their own keys; an admin any key of the tenant. Another member's key is NotFound."""

    def __init__(self, uow: UnitOfWork, auditor: Auditor) -> None:
        self._uow = uow
        self._auditor = auditor

    async def __call__(self, principal: Principal, key_id: UUID) -> None:
        async with self._uow as uow:
            key = await uow.api_keys.get(principal.tenant_id, key_id)
            if key is None or not (principal.administers or key.user_id == principal.user_id):
                raise NotFound("API key not found")
            await uow.api_keys.delete(principal.tenant_id, key_id)
            await self._auditor.record(uow, AuditAction.KEY_DELETED, principal.tenant_id, principal.user_id, key_id)
            await uow.commit()
