from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from adapters.memory.store import MemoryStore
from domain.changes import Change, ChangeFilter, LoggedChange
from domain.ports.persistence import ChangeLog, WatchLeaseRepository, WebhookRepository
from domain.webhooks import Delivery, DeliveryAttempt, DeliveryStatus, Webhook


def as_json(data: Any) -> Any:
    """What the SQL stores keep of an event's data: its JSON, as the API encodes it (UUIDs and datetimes as
    strings), so the fake hands out the same values."""
    return msgspec.json.decode(msgspec.json.encode(data))


class MemoryChangeLog(ChangeLog):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.pending: list[Change] = []

    def record(self, change: Change) -> None:
        self.pending.append(change)

    def flush(self) -> set[UUID]:
        """Numbers and keeps what was recorded (the unit of work's commit); returns the tenants concerned."""
        tenants: set[UUID] = set()
        for change in self.pending:
            last, pruned = self._store.change_positions.get(change.tenant_id, (0, 0))
            logged = LoggedChange(last + 1, replace(change, data=as_json(change.data)))
            self._store.changes[(change.tenant_id, last + 1)] = logged
            self._store.change_positions[change.tenant_id] = (last + 1, pruned)
            tenants.add(change.tenant_id)
        self.pending.clear()
        return tenants

    async def after(
        self, tenant_id: UUID, sequence: int, limit: int, wanted: ChangeFilter | None = None, with_data: bool = True
    ) -> list[LoggedChange]:
        found = sorted(
            (
                logged
                for (tenant, number), logged in self._store.changes.items()
                if tenant == tenant_id and number > sequence and (wanted is None or wanted.matches(logged.change))
            ),
            key=lambda logged: logged.sequence,
        )
        if not with_data:
            found = [LoggedChange(f.sequence, replace(f.change, data={})) for f in found]
        return found[:limit]

    async def at(self, tenant_id: UUID, sequences: Sequence[int]) -> list[LoggedChange]:
        found = (self._store.changes.get((tenant_id, number)) for number in sequences)
        return [logged for logged in found if logged is not None]

    async def position(self, tenant_id: UUID) -> tuple[int, int]:
        return self._store.change_positions.get(tenant_id, (0, 0))

    async def prune(self, older_than: datetime, batch: int) -> int:
        """As the SQL store: per tenant, a prefix of its log up to the first event not older than `older_than`."""
        pruned = 0
        for tenant_id in sorted({tenant for tenant, _ in self._store.changes}):
            mine = sorted(
                (logged for (tenant, _), logged in self._store.changes.items() if tenant == tenant_id),
                key=lambda logged: logged.sequence,
            )
            old: list[int] = []
            for logged in mine:
                if logged.change.created_at >= older_than or pruned + len(old) >= batch:
                    break
                old.append(logged.sequence)
            for number in old:
                del self._store.changes[(tenant_id, number)]
            if old:
                last, mark = self._store.change_positions[tenant_id]
                self._store.change_positions[tenant_id] = (last, max(mark, old[-1]))
            pruned += len(old)
        return pruned


class MemoryWebhookRepository(WebhookRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, webhook: Webhook) -> None:
        self._store.webhooks[webhook.id] = replace(webhook)

    async def get(self, tenant_id: UUID, webhook_id: UUID) -> Webhook | None:
        found = self._store.webhooks.get(webhook_id)
        return replace(found) if found is not None and found.tenant_id == tenant_id else None

    async def for_tenant(self, tenant_id: UUID) -> list[Webhook]:
        return [replace(w) for w in self._store.webhooks.values() if w.tenant_id == tenant_id]

    async def update(self, webhook: Webhook) -> None:
        if await self.get(webhook.tenant_id, webhook.id) is not None:
            self._store.webhooks[webhook.id] = replace(webhook)

    async def delete(self, tenant_id: UUID, webhook_id: UUID) -> bool:
        if await self.get(tenant_id, webhook_id) is None:
            return False
        del self._store.webhooks[webhook_id]
        for key in [k for k, d in self._store.deliveries.items() if d.webhook_id == webhook_id]:
            del self._store.deliveries[key]
        for key in [k for k, a in self._store.attempts.items() if a.webhook_id == webhook_id]:
            del self._store.attempts[key]
        return True

    async def enabled(self, tenant_id: UUID) -> list[Webhook]:
        return [w for w in await self.for_tenant(tenant_id) if w.enabled]

    async def advance(self, webhook_id: UUID, seen: int, to: int) -> bool:
        found = self._store.webhooks.get(webhook_id)
        if found is None or found.cursor != seen:
            return False
        self._store.webhooks[webhook_id] = replace(found, cursor=to)
        return True

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            self._store.deliveries[delivery.id] = replace(delivery)

    async def claim_due(self, tenant_id: UUID, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        due = sorted(
            (d for d in self._store.deliveries.values() if d.tenant_id == tenant_id and _due(d, now)),
            key=lambda d: (d.next_attempt_at, d.sequence),
        )[:limit]
        claimed = [replace(delivery, next_attempt_at=lease_until) for delivery in due]
        for delivery in claimed:
            self._store.deliveries[delivery.id] = replace(delivery)
        return sorted(claimed, key=lambda d: d.sequence)

    async def finish_attempts(
        self,
        deliveries: Sequence[Delivery],
        attempts: Sequence[DeliveryAttempt],
        claimed_until: datetime | None = None,
    ) -> set[UUID]:
        saved: set[UUID] = set()
        for delivery in deliveries:
            stored = self._store.deliveries.get(delivery.id)
            if stored is None:
                continue
            if claimed_until is not None and (
                stored.status is not DeliveryStatus.PENDING or stored.next_attempt_at != claimed_until
            ):
                continue
            self._store.deliveries[delivery.id] = replace(delivery)
            saved.add(delivery.id)
        for attempt in attempts:
            if attempt.delivery_id in saved:
                self._store.attempts[attempt.id] = attempt
        return saved

    async def fail_pending(self, webhook_id: UUID) -> None:
        for key, delivery in list(self._store.deliveries.items()):
            if delivery.webhook_id == webhook_id and delivery.status is DeliveryStatus.PENDING:
                self._store.deliveries[key] = replace(delivery, status=DeliveryStatus.FAILED, next_attempt_at=None)

    async def attempts(
        self, tenant_id: UUID, webhook_id: UUID, before: UUID | None, limit: int
    ) -> list[DeliveryAttempt]:
        found = sorted(
            (
                a
                for a in self._store.attempts.values()
                if a.tenant_id == tenant_id and a.webhook_id == webhook_id and (before is None or a.id < before)
            ),
            key=lambda a: a.id,
            reverse=True,
        )
        return found[:limit]

    async def next_due(self, tenant_id: UUID) -> datetime | None:
        times = [
            d.next_attempt_at
            for d in self._store.deliveries.values()
            if d.tenant_id == tenant_id and d.status is DeliveryStatus.PENDING and d.next_attempt_at is not None
        ]
        return min(times, default=None)

    async def tenants_with_work(self, now: datetime) -> list[UUID]:
        tenants = {d.tenant_id for d in self._store.deliveries.values() if _due(d, now)}
        for webhook in self._store.webhooks.values():
            last, _ = self._store.change_positions.get(webhook.tenant_id, (0, 0))
            if webhook.enabled and webhook.cursor < last:
                tenants.add(webhook.tenant_id)
        return sorted(tenants)

    async def count_due(self, now: datetime) -> int:
        return sum(1 for d in self._store.deliveries.values() if _due(d, now))

    async def prune(self, older_than: datetime) -> int:
        gone = {
            key
            for key, d in self._store.deliveries.items()
            if d.status is not DeliveryStatus.PENDING and d.created_at < older_than
        }
        for key in gone:
            del self._store.deliveries[key]
        for key in [k for k, a in self._store.attempts.items() if a.delivery_id in gone or a.at < older_than]:
            del self._store.attempts[key]
        return len(gone)


def _due(delivery: Delivery, now: datetime) -> bool:
    return (
        delivery.status is DeliveryStatus.PENDING
        and delivery.next_attempt_at is not None
        and delivery.next_attempt_at <= now
    )


class MemoryWatchLeaseRepository(WatchLeaseRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def renew(self, owner: str, now: datetime, until: datetime) -> list[tuple[UUID, UUID]]:
        held: list[tuple[UUID, UUID]] = []
        for account_id, (tenant_id, holder, expires) in list(self._store.watch_leases.items()):
            if account_id not in self._store.accounts:
                del self._store.watch_leases[account_id]
            elif holder == owner and expires > now:
                self._store.watch_leases[account_id] = (tenant_id, owner, until)
                held.append((tenant_id, account_id))
        return held

    async def claim(self, owner: str, now: datetime, until: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        taken: list[tuple[UUID, UUID]] = []
        for account in sorted(self._store.accounts.values(), key=lambda a: a.id):
            lease = self._store.watch_leases.get(account.id)
            if len(taken) < limit and (lease is None or lease[2] <= now):
                self._store.watch_leases[account.id] = (account.tenant_id, owner, until)
                taken.append((account.tenant_id, account.id))
        return taken

    async def release(self, owner: str, account_ids: Sequence[UUID]) -> None:
        for account_id in account_ids:
            if (lease := self._store.watch_leases.get(account_id)) is not None and lease[1] == owner:
                del self._store.watch_leases[account_id]
