"""The change log and the webhooks on SQL (Postgres or SQLite)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import msgspec
from sqlalchemy import CursorResult, Table, bindparam, delete, func, or_, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.change_models import (
    ChangeCounterModel,
    ChangeEventModel,
    WebhookAttemptModel,
    WebhookDeliveryModel,
    WebhookModel,
)
from domain.accounts import EncryptedSecret
from domain.changes import Change, ChangeFilter, ChangeType, LoggedChange
from domain.ports.persistence import ChangeLog, WebhookRepository
from domain.webhooks import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus, Webhook, webhook_secret_binding

_EVENTS = cast("Table", ChangeEventModel.__table__)
_COUNTERS = cast("Table", ChangeCounterModel.__table__)
_DELIVERIES = cast("Table", WebhookDeliveryModel.__table__)


def _as_json(data: Any) -> Any:
    """The event's data as the API encodes it (UUIDs and datetimes as strings): stored as served."""
    return msgspec.json.decode(msgspec.json.encode(data))


class SqlChangeLog(ChangeLog):
    """Events recorded in a transaction are written by `flush`, which the unit of work calls right before COMMIT:
    the tenant's counter row stays locked from then until the commit, a round trip or two, so writers of one
    tenant take sequences, and become visible, in one order."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.pending: list[Change] = []

    def record(self, change: Change) -> None:
        self.pending.append(change)

    async def flush(self) -> set[UUID]:
        if not self.pending:
            return set()
        by_tenant: dict[UUID, list[Change]] = {}
        for change in self.pending:
            by_tenant.setdefault(change.tenant_id, []).append(change)
        self.pending = []
        for tenant_id in sorted(by_tenant):  # one order of locks for every writer: no deadlock between two
            changes = by_tenant[tenant_id]
            last = await self._take(tenant_id, len(changes))
            first = last - len(changes) + 1
            await self._session.execute(
                _EVENTS.insert(),
                [
                    {
                        "tenant_id": tenant_id,
                        "sequence": first + offset,
                        "id": change.id,
                        "type": change.type.value,
                        "account_id": change.account_id,
                        "created_at": change.created_at,
                        "data": _as_json(change.data),
                    }
                    for offset, change in enumerate(changes)
                ],
            )
        return set(by_tenant)

    async def _take(self, tenant_id: UUID, count: int) -> int:
        dialect = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(_COUNTERS)
            .values(tenant_id=tenant_id, last_sequence=count, pruned_through=0)
            .on_conflict_do_update(
                index_elements=[_COUNTERS.c.tenant_id], set_={"last_sequence": _COUNTERS.c.last_sequence + count}
            )
            .returning(_COUNTERS.c.last_sequence)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def after(
        self, tenant_id: UUID, sequence: int, limit: int, wanted: ChangeFilter | None = None, with_data: bool = True
    ) -> list[LoggedChange]:
        columns = _EVENTS.c if with_data else [c for c in _EVENTS.c if c.name != "data"]
        statement = (
            select(*columns)
            .where(_EVENTS.c.tenant_id == tenant_id, _EVENTS.c.sequence > sequence)
            .order_by(_EVENTS.c.sequence)
            .limit(limit)
        )
        if wanted is not None and wanted.types:
            statement = statement.where(_EVENTS.c.type.in_(sorted(t.value for t in wanted.types)))
        if wanted is not None and wanted.account_ids is not None:
            statement = statement.where(_EVENTS.c.account_id.in_(sorted(wanted.account_ids)))
        return [_logged(row) for row in await self._session.execute(statement)]

    async def at(self, tenant_id: UUID, sequences: Sequence[int]) -> list[LoggedChange]:
        found: list[LoggedChange] = []
        for start in range(0, len(sequences), 1000):
            rows = await self._session.execute(
                select(_EVENTS).where(
                    _EVENTS.c.tenant_id == tenant_id, _EVENTS.c.sequence.in_(list(sequences[start : start + 1000]))
                )
            )
            found.extend(_logged(row) for row in rows)
        return found

    async def position(self, tenant_id: UUID) -> tuple[int, int]:
        row = (
            await self._session.execute(
                select(_COUNTERS.c.last_sequence, _COUNTERS.c.pruned_through).where(_COUNTERS.c.tenant_id == tenant_id)
            )
        ).first()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    async def prune(self, older_than: datetime, batch: int) -> int:
        """Per tenant, a prefix of its log: up to the first event not older than `older_than` (an event's time is
        taken when it is recorded, its sequence when it commits, so the two may disagree a little), at most `batch`
        events, so the pruned mark always has every kept event above it."""
        tenants = await self._session.scalars(
            select(_EVENTS.c.tenant_id).where(_EVENTS.c.created_at < older_than).distinct().limit(batch)
        )
        pruned = 0
        for tenant_id in list(tenants):
            if pruned >= batch:
                break
            mine = _EVENTS.c.tenant_id == tenant_id
            lowest, last = (
                await self._session.execute(
                    select(func.min(_EVENTS.c.sequence), func.max(_EVENTS.c.sequence)).where(mine)
                )
            ).one()
            young = await self._session.scalar(
                select(func.min(_EVENTS.c.sequence)).where(mine, _EVENTS.c.created_at >= older_than)
            )
            through = min(last if young is None else young - 1, lowest + batch - pruned - 1)
            if through < lowest:
                continue
            result = await self._session.execute(delete(_EVENTS).where(mine, _EVENTS.c.sequence <= through))
            pruned += cast("CursorResult[Any]", result).rowcount
            await self._session.execute(
                update(_COUNTERS)
                .where(_COUNTERS.c.tenant_id == tenant_id, _COUNTERS.c.pruned_through < through)
                .values(pruned_through=through)
            )
        return pruned


class SqlWebhookRepository(WebhookRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, webhook: Webhook) -> None:
        row = WebhookModel(id=webhook.id, created_at=webhook.created_at)
        _copy_to_row(webhook, row)
        self._session.add(row)
        await self._session.flush()

    async def get(self, tenant_id: UUID, webhook_id: UUID) -> Webhook | None:
        row = await self._session.get(WebhookModel, webhook_id)
        return _webhook(row) if row is not None and row.tenant_id == tenant_id else None

    async def for_tenant(self, tenant_id: UUID) -> list[Webhook]:
        rows = await self._session.scalars(
            select(WebhookModel).where(WebhookModel.tenant_id == tenant_id).order_by(WebhookModel.id)
        )
        return [_webhook(row) for row in rows]

    async def update(self, webhook: Webhook) -> None:
        row = await self._session.get(WebhookModel, webhook.id)
        if row is not None and row.tenant_id == webhook.tenant_id:
            _copy_to_row(webhook, row)
            await self._session.flush()

    async def delete(self, tenant_id: UUID, webhook_id: UUID) -> bool:
        for model in (WebhookAttemptModel, WebhookDeliveryModel):  # SQLite enforces no foreign keys here
            await self._session.execute(
                delete(model).where(model.webhook_id == webhook_id, model.tenant_id == tenant_id)
            )
        result = await self._session.execute(
            delete(WebhookModel).where(WebhookModel.id == webhook_id, WebhookModel.tenant_id == tenant_id)
        )
        return bool(cast("CursorResult[Any]", result).rowcount)

    async def enabled(self, tenant_id: UUID) -> list[Webhook]:
        rows = await self._session.scalars(
            select(WebhookModel)
            .where(WebhookModel.tenant_id == tenant_id, WebhookModel.enabled.is_(True))
            .order_by(WebhookModel.id)
        )
        return [_webhook(row) for row in rows]

    async def advance(self, webhook_id: UUID, seen: int, to: int) -> bool:
        result = await self._session.execute(
            update(WebhookModel)
            .where(WebhookModel.id == webhook_id, WebhookModel.cursor == seen)
            .values(cursor=to)
            .execution_options(synchronize_session=False)
        )
        return bool(cast("CursorResult[Any]", result).rowcount)

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            await self._session.execute(
                _DELIVERIES.insert(),
                [
                    {
                        "id": d.id,
                        "tenant_id": d.tenant_id,
                        "webhook_id": d.webhook_id,
                        "sequence": d.sequence,
                        "event_id": d.event_id,
                        "event_type": d.event_type,
                        "status": d.status.value,
                        "attempts": d.attempts,
                        "next_attempt_at": d.next_attempt_at,
                        "created_at": d.created_at,
                        "updated_at": d.created_at,
                    }
                    for d in deliveries
                ],
            )

    async def claim_due(self, tenant_id: UUID, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        due = (
            _DELIVERIES.c.tenant_id == tenant_id,
            _DELIVERIES.c.status == DeliveryStatus.PENDING.value,
            _DELIVERIES.c.next_attempt_at <= now,
        )
        ids = list(
            await self._session.scalars(
                select(_DELIVERIES.c.id)
                .where(*due)
                .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.sequence)
                .limit(limit)
            )
        )
        if not ids:
            return []
        rows = await self._session.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id.in_(ids), *due)
            .values(next_attempt_at=lease_until, updated_at=now)
            .returning(*_DELIVERIES.c)
        )
        claimed = [_delivery(row) for row in rows]
        return sorted(claimed, key=lambda d: d.sequence)

    async def finish_attempts(
        self,
        deliveries: Sequence[Delivery],
        attempts: Sequence[DeliveryAttempt],
        claimed_until: datetime | None = None,
    ) -> set[UUID]:
        """The claim is checked on rows locked for the transaction (FOR UPDATE), then one UPDATE is executed for
        every delivery still held (executemany), and one INSERT for their attempts."""
        ids = [d.id for d in deliveries]
        if claimed_until is not None and ids:
            held = select(_DELIVERIES.c.id).where(
                _DELIVERIES.c.id.in_(ids),
                _DELIVERIES.c.status == DeliveryStatus.PENDING.value,
                _DELIVERIES.c.next_attempt_at == claimed_until,
            )
            if self._session.get_bind().dialect.name == "postgresql":
                held = held.with_for_update()
            kept = set(await self._session.scalars(held))
            deliveries = [d for d in deliveries if d.id in kept]
            attempts = [a for a in attempts if a.delivery_id in kept]
        if deliveries:
            statement = (
                update(_DELIVERIES)
                .where(_DELIVERIES.c.id == bindparam("b_id"))
                .values(
                    status=bindparam("b_status"), attempts=bindparam("b_attempts"), next_attempt_at=bindparam("b_next")
                )
            )
            rows = [
                {"b_id": d.id, "b_status": d.status.value, "b_attempts": d.attempts, "b_next": d.next_attempt_at}
                for d in deliveries
            ]
            connection = await self._session.connection()
            await connection.execute(statement, rows)
        if attempts:
            await self._session.execute(
                cast("Table", WebhookAttemptModel.__table__).insert(),
                [
                    {
                        "id": a.id,
                        "tenant_id": a.tenant_id,
                        "webhook_id": a.webhook_id,
                        "delivery_id": a.delivery_id,
                        "event_id": a.event_id,
                        "event_type": a.event_type,
                        "attempt": a.attempt,
                        "at": a.at,
                        "status_code": a.outcome.status_code,
                        "duration_ms": a.outcome.duration_ms,
                        "error": None if a.outcome.error is None else a.outcome.error[:500],
                        "next_attempt_at": a.next_attempt_at,
                        "created_at": a.at,
                        "updated_at": a.at,
                    }
                    for a in attempts
                ],
            )
        return {d.id for d in deliveries}

    async def fail_pending(self, webhook_id: UUID) -> None:
        await self._session.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.webhook_id == webhook_id, _DELIVERIES.c.status == DeliveryStatus.PENDING.value)
            .values(status=DeliveryStatus.FAILED.value, next_attempt_at=None)
        )

    async def attempts(
        self, tenant_id: UUID, webhook_id: UUID, before: UUID | None, limit: int
    ) -> list[DeliveryAttempt]:
        statement = (
            select(WebhookAttemptModel)
            .where(WebhookAttemptModel.tenant_id == tenant_id, WebhookAttemptModel.webhook_id == webhook_id)
            .order_by(WebhookAttemptModel.id.desc())
            .limit(limit)
        )
        if before is not None:
            statement = statement.where(WebhookAttemptModel.id < before)
        return [_attempt(row) for row in await self._session.scalars(statement)]

    async def next_due(self, tenant_id: UUID) -> datetime | None:
        found: datetime | None = await self._session.scalar(
            select(func.min(_DELIVERIES.c.next_attempt_at)).where(
                _DELIVERIES.c.tenant_id == tenant_id, _DELIVERIES.c.status == DeliveryStatus.PENDING.value
            )
        )
        return found

    async def tenants_with_work(self, now: datetime) -> list[UUID]:
        due = select(_DELIVERIES.c.tenant_id).where(
            _DELIVERIES.c.status == DeliveryStatus.PENDING.value, _DELIVERIES.c.next_attempt_at <= now
        )
        behind = (
            select(WebhookModel.tenant_id)
            .join(ChangeCounterModel, ChangeCounterModel.tenant_id == WebhookModel.tenant_id)
            .where(WebhookModel.enabled.is_(True), WebhookModel.cursor < ChangeCounterModel.last_sequence)
        )
        return sorted(set(await self._session.scalars(union(due, behind))))

    async def count_due(self, now: datetime) -> int:
        due = select(func.count()).where(
            _DELIVERIES.c.status == DeliveryStatus.PENDING.value, _DELIVERIES.c.next_attempt_at <= now
        )
        return int(await self._session.scalar(due) or 0)

    async def prune(self, older_than: datetime) -> int:
        finished = select(_DELIVERIES.c.id).where(
            _DELIVERIES.c.status != DeliveryStatus.PENDING.value, _DELIVERIES.c.created_at < older_than
        )
        await self._session.execute(
            delete(_ATTEMPTS).where(or_(_ATTEMPTS.c.at < older_than, _ATTEMPTS.c.delivery_id.in_(finished)))
        )
        result = await self._session.execute(delete(_DELIVERIES).where(_DELIVERIES.c.id.in_(finished)))
        return cast("CursorResult[Any]", result).rowcount


_ATTEMPTS = cast("Table", WebhookAttemptModel.__table__)


def _logged(row: Any) -> LoggedChange:
    data = row.data if "data" in row._fields else {}
    return LoggedChange(
        row.sequence, Change(row.id, ChangeType(row.type), row.tenant_id, row.account_id, row.created_at, data)
    )


def _copy_to_row(webhook: Webhook, row: WebhookModel) -> None:
    row.tenant_id = webhook.tenant_id
    row.url = webhook.url
    row.event_types = sorted(t.value for t in webhook.wanted.types)
    row.account_ids = None if webhook.wanted.account_ids is None else sorted(str(a) for a in webhook.wanted.account_ids)
    row.description = webhook.description
    row.secret_key_id = webhook.secret.key_id
    row.secret_ciphertext = webhook.secret.ciphertext
    row.cursor = webhook.cursor
    row.enabled = webhook.enabled
    row.disabled_reason = webhook.disabled_reason
    row.updated_at = webhook.updated_at
    row.owner_id = webhook.owner_id


def _webhook(row: WebhookModel) -> Webhook:
    return Webhook(
        id=row.id,
        tenant_id=row.tenant_id,
        url=row.url,
        wanted=ChangeFilter(
            frozenset(ChangeType(t) for t in row.event_types),
            None if row.account_ids is None else frozenset(UUID(a) for a in row.account_ids),
        ),
        description=row.description,
        secret=EncryptedSecret(row.secret_key_id, row.secret_ciphertext, webhook_secret_binding(row.id)),
        created_at=row.created_at,
        updated_at=row.updated_at,
        cursor=row.cursor,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        owner_id=row.owner_id,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        tenant_id=row.tenant_id,
        webhook_id=row.webhook_id,
        sequence=row.sequence,
        event_id=row.event_id,
        event_type=row.event_type,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
    )


def _attempt(row: WebhookAttemptModel) -> DeliveryAttempt:
    return DeliveryAttempt(
        id=row.id,
        tenant_id=row.tenant_id,
        webhook_id=row.webhook_id,
        delivery_id=row.delivery_id,
        event_id=row.event_id,
        event_type=row.event_type,
        attempt=row.attempt,
        at=row.at,
        outcome=AttemptOutcome(row.status_code, row.duration_ms, row.error),
        next_attempt_at=row.next_attempt_at,
    )
