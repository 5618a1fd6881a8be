"""The audit trail's repository on SQLite, Postgres and the fake: newest first, paged, one tenant's only."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from domain.audit import AuditAction, AuditEvent
from domain.ids import new_id
from domain.pagination import PageRequest
from domain.ports.persistence import UnitOfWork
from tests.integration.test_persistence_contract import tenant

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def test_events_come_newest_first_for_their_tenant_only(make_uow: Callable[[], UnitOfWork]) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    actor = new_id()
    events = [
        AuditEvent(new_id(), acme.id, actor, action, "target", NOW + timedelta(minutes=n), f"r-{n}", "192.0.2.7")
        for n, action in enumerate([AuditAction.LOGIN_SUCCEEDED, AuditAction.ACCOUNT_CREATED, AuditAction.SEND_QUEUED])
    ]
    async with make_uow() as uow:
        for event in [*events, AuditEvent(new_id(), globex.id, None, AuditAction.LOGIN_FAILED, None, NOW, None, None)]:
            await uow.audit.add(event)
        await uow.audit.add(AuditEvent(new_id(), None, None, AuditAction.LOGIN_FAILED, "x@y.z", NOW, None, None))
        await uow.commit()
    async with make_uow() as uow:
        first = await uow.audit.list(acme.id, PageRequest(limit=2))
        second = await uow.audit.list(acme.id, PageRequest(limit=2, offset=2))
    assert first.total == 3
    assert list(first.items) == events[::-1][:2]
    assert list(second.items) == events[:1]
