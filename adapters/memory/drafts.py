from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from adapters.memory.store import MemoryStore
from domain.drafts import Draft, DraftStatus
from domain.ports.persistence import DraftRepository


class MemoryDraftRepository(DraftRepository):
    """Copies in and out, as a database would: a caller's Draft is never the stored one."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, tenant_id: UUID, draft_id: UUID) -> Draft | None:
        draft = self._store.drafts.get(draft_id)
        return replace(draft) if draft is not None and draft.tenant_id == tenant_id else None

    async def add(self, draft: Draft) -> None:
        self._store.drafts[draft.id] = replace(draft)

    async def update(self, draft: Draft, *, expected: DraftStatus, owner: str | None = None) -> bool:
        stored = self._store.drafts.get(draft.id)
        if stored is None or stored.tenant_id != draft.tenant_id or stored.status is not expected:
            return False
        if owner is not None and stored.lease_owner != owner:
            return False
        self._store.drafts[draft.id] = replace(draft)
        return True

    async def delete(self, tenant_id: UUID, draft_id: UUID) -> bool:
        stored = self._store.drafts.get(draft_id)
        if stored is None or stored.tenant_id != tenant_id or stored.status is DraftStatus.SENDING:
            return False
        del self._store.drafts[draft_id]
        return True

    async def claim(self, draft_id: UUID, owner: str, now: datetime, ttl: timedelta) -> bool:
        stored = self._store.drafts.get(draft_id)
        if stored is None or not stored.claimable(now):
            return False
        claimed = replace(stored)
        claimed.start_sending(owner, now, ttl)
        self._store.drafts[draft_id] = claimed
        return True

    async def needing_jobs(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        waiting = sorted(
            (d for d in self._store.drafts.values() if d.needs_job(now)),
            key=lambda d: d.due_at or now,
        )
        return [(d.tenant_id, d.id) for d in waiting[:limit]]

    async def mark_enqueued(self, draft_id: UUID, now: datetime) -> None:
        stored = self._store.drafts.get(draft_id)
        if stored is not None:
            self._store.drafts[draft_id] = replace(stored, enqueued_at=now)
