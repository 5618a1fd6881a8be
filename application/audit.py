"""Writing and reading the audit trail."""

from uuid import UUID

from domain.audit import AuditAction, AuditEvent, RequestOrigin
from domain.auth import Principal
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock


class Auditor:
    """Adds an event to the caller's unit of work, so it commits (or not) with the change it records."""

    def __init__(self, origin: RequestOrigin, clock: Clock) -> None:
        self._origin = origin
        self._clock = clock

    async def record(
        self,
        uow: UnitOfWork,
        action: AuditAction,
        tenant_id: UUID | None,
        actor_id: UUID | None = None,
        target: object | None = None,
    ) -> None:
        event = AuditEvent(
            id=new_id(),
            tenant_id=tenant_id,
            actor_id=actor_id,
            action=action,
            target=None if target is None else str(target)[:320],
            at=self._clock.now(),
            request_id=self._origin.request_id,
            client_address=self._origin.client_address,
        )
        await uow.audit.add(event)


class ListAuditEvents:
    """For the admins of a tenant only."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, page: PageRequest) -> Page[AuditEvent]:
        principal.require_admin()
        async with self._uow as uow:
            return await uow.audit.list(principal.tenant_id, page)
