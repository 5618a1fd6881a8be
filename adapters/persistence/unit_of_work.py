from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.persistence.access import SqlAccountGrantRepository, SqlApiKeyRepository, SqlSessionRepository
from adapters.persistence.audit import SqlAuditRepository
from adapters.persistence.blob_references import SqlBlobReferences
from adapters.persistence.changes import SqlChangeLog, SqlWebhookRepository
from adapters.persistence.draft_repository import SqlDraftRepository
from adapters.persistence.hand_on import TransactionHandOn
from adapters.persistence.mail_repositories import (
    SqlAccountSyncRepository,
    SqlMailboxRepository,
    SqlMessageQueries,
    SqlMessageStore,
    SqlSearchIndex,
)
from adapters.persistence.message_search import SearchTuning
from adapters.persistence.repositories import (
    SqlMailAccountRepository,
    SqlOAuthGrantRepository,
    SqlTenantRepository,
    SqlUserRepository,
)
from adapters.persistence.tenant_scope import SCOPE_KEY, current_tenant_scope, rescope
from adapters.persistence.watch_leases import SqlWatchLeaseRepository
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import ACCOUNTS_TOPIC, CHANGES_TOPIC, Doorbell


class SqlUnitOfWork(UnitOfWork):
    """One AsyncSession per `async with`; leaving without `commit()` rolls back. On Postgres every transaction
    it begins is scoped to the tenant of the current context (row-level security, see tenant_scope).

    Given a hand-on, inside `with hand_on():` (the API's token check) a unit of work that only read and did not
    commit leaves its transaction open, and the next `async with` goes on in it (see hand_on). `close()`, at the
    end of the request or job, ends one that no unit of work took on.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        hand_on: TransactionHandOn | None = None,
        search_tuning: SearchTuning | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._hand_on = hand_on
        self._search_tuning = SearchTuning() if search_tuning is None else search_tuning
        self._doorbell = doorbell
        self._session: AsyncSession | None = None
        self._handed_on: AsyncSession | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        scope = current_tenant_scope.get()
        session, self._handed_on = self._handed_on, None
        if session is None:
            session = self._session_factory()
            session.info[SCOPE_KEY] = scope
        else:
            await rescope(session, scope)
        self._session, self._committed = session, False
        self.tenants = SqlTenantRepository(session)
        self.users = SqlUserRepository(session)
        self.grants = SqlAccountGrantRepository(session)
        self.sessions = SqlSessionRepository(session)
        self.api_keys = SqlApiKeyRepository(session)
        self.accounts = self._accounts = SqlMailAccountRepository(session)
        self.oauth_grants = SqlOAuthGrantRepository(session)
        self.mailboxes = SqlMailboxRepository(session)
        self.message_store = SqlMessageStore(session)
        self.messages = SqlMessageQueries(session, self._search_tuning)
        self.search_index = SqlSearchIndex(session)
        self.syncs = SqlAccountSyncRepository(session)
        self.drafts = SqlDraftRepository(session)
        self.audit = SqlAuditRepository(session)
        self.blob_references = SqlBlobReferences(session)
        self.changes = SqlChangeLog(session)
        self.webhooks = SqlWebhookRepository(session)
        self.watches = SqlWatchLeaseRepository(session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        if exc_type is None and not self._committed and self._hand_on and await self._hand_on.takes(session):
            self._handed_on = session
            return
        await _end(session)

    async def commit(self) -> None:
        """Writes the events recorded in this transaction last, right before COMMIT (see SqlChangeLog), and rings
        the doorbell for their tenants once they are committed."""
        if self._session is not None:
            tenants = await self.changes.flush()
            await self._session.commit()
            self._committed = True
            accounts, self._accounts.touched = self._accounts.touched, set()
            if self._doorbell is not None:
                for tenant_id in tenants:
                    await self._doorbell.ring(CHANGES_TOPIC, tenant_id.hex)
                for account_id in accounts:
                    await self._doorbell.ring(ACCOUNTS_TOPIC, account_id.hex)

    async def rollback(self) -> None:
        if self._session is not None:
            self.changes.pending.clear()
            self._accounts.touched.clear()
            await self._session.rollback()

    async def close(self) -> None:
        """Ends a transaction handed on that no unit of work took."""
        session, self._handed_on = self._handed_on, None
        if session is not None:
            await _end(session)


async def _end(session: AsyncSession) -> None:
    await session.rollback()
    await session.close()
