from uuid import UUID

from adapters.memory.store import MemoryStore
from domain.audit import AuditEvent
from domain.pagination import Page, PageRequest
from domain.ports.persistence import AuditRepository


class MemoryAuditRepository(AuditRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, event: AuditEvent) -> None:
        self._store.audit[event.id] = event

    async def list(self, tenant_id: UUID, page: PageRequest) -> Page[AuditEvent]:
        events = sorted(
            (e for e in self._store.audit.values() if e.tenant_id == tenant_id),
            key=lambda e: (e.at, e.id),
            reverse=True,
        )
        return Page(items=events[page.offset : page.offset + page.limit], total=len(events))
