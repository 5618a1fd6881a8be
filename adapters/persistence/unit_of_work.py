from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.persistence.audit import SqlAuditRepository
from adapters.persistence.draft_repository import SqlDraftRepository
from adapters.persistence.mail_repositories import (
    SqlAccountSyncRepository,
    SqlMailboxRepository,
    SqlMessageRepository,
)
from adapters.persistence.repositories import SqlMailAccountRepository, SqlTenantRepository, SqlUserRepository
from adapters.persistence.tenant_scope import SCOPE_KEY, current_tenant_scope
from domain.ports.persistence import UnitOfWork


class SqlUnitOfWork(UnitOfWork):
    """One AsyncSession per `async with`; leaving without `commit()` rolls back. On Postgres every transaction
    it begins is scoped to the tenant of the current context (row-level security, see tenant_scope)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self._session.info[SCOPE_KEY] = current_tenant_scope.get()
        self.tenants = SqlTenantRepository(self._session)
        self.users = SqlUserRepository(self._session)
        self.accounts = SqlMailAccountRepository(self._session)
        self.mailboxes = SqlMailboxRepository(self._session)
        self.messages = SqlMessageRepository(self._session)
        self.syncs = SqlAccountSyncRepository(self._session)
        self.drafts = SqlDraftRepository(self._session)
        self.audit = SqlAuditRepository(self._session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.rollback()
            await session.close()

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()
