"""Inbox watch leases on SQL (domain.ports.persistence.WatchLeaseRepository)."""

from collections.abc import Sequence
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, delete, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.change_models import WatchLeaseModel
from adapters.persistence.models import MailAccountModel
from domain.ports.persistence import WatchLeaseRepository

_LEASES = cast("Table", WatchLeaseModel.__table__)
_ACCOUNTS = cast("Table", MailAccountModel.__table__)


class SqlWatchLeaseRepository(WatchLeaseRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def renew(self, owner: str, now: datetime, until: datetime) -> list[tuple[UUID, UUID]]:
        rows = await self._session.execute(
            update(_LEASES)
            .where(_LEASES.c.owner == owner, _LEASES.c.expires_at > now)
            .values(expires_at=until)
            .returning(_LEASES.c.tenant_id, _LEASES.c.account_id)
        )
        return [(tenant_id, account_id) for tenant_id, account_id in rows]

    async def claim(self, owner: str, now: datetime, until: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """One statement: the accounts with no live lease, inserted as leases of `owner`, or taken over where the
        lease ran out. The conflict clause re-checks the expiry on the row it locks, so of two processes claiming
        at once, the second finds the first's fresh lease and takes nothing."""
        free = (
            select(_ACCOUNTS.c.id, _ACCOUNTS.c.tenant_id)
            .outerjoin(_LEASES, _LEASES.c.account_id == _ACCOUNTS.c.id)
            .where(or_(_LEASES.c.account_id.is_(None), _LEASES.c.expires_at <= now))
            .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
            .order_by(func.random())  # processes claiming at once mostly pick different accounts
            .limit(limit)
        )
        # Inserted in account order: processes claiming at once lock the rows they meet in one order, never in
        # opposite orders (a deadlock).
        candidates = sorted((row.id, row.tenant_id) for row in await self._session.execute(free))
        if not candidates:
            return []
        dialect = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        statement = dialect.insert(_LEASES).values(
            [{"account_id": a, "tenant_id": t, "owner": owner, "expires_at": until} for a, t in candidates]
        )
        statement = statement.on_conflict_do_update(
            index_elements=[_LEASES.c.account_id],
            set_={"owner": owner, "expires_at": until},
            where=_LEASES.c.expires_at <= now,
        ).returning(_LEASES.c.tenant_id, _LEASES.c.account_id, _LEASES.c.owner)
        rows = await self._session.execute(statement)
        return [(tenant_id, account_id) for tenant_id, account_id, holder in rows if holder == owner]

    async def release(self, owner: str, account_ids: Sequence[UUID]) -> None:
        for start in range(0, len(account_ids), 1000):
            await self._session.execute(
                delete(_LEASES).where(
                    _LEASES.c.owner == owner, _LEASES.c.account_id.in_(list(account_ids[start : start + 1000]))
                )
            )
