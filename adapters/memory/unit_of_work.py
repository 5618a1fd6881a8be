import asyncio
from types import TracebackType
from typing import Self

from adapters.memory.access import (
    MemoryAccountGrantRepository,
    MemoryApiKeyRepository,
    MemorySessionRepository,
)
from adapters.memory.audit import MemoryAuditRepository
from adapters.memory.blobs import MemoryBlobReferences
from adapters.memory.changes import MemoryChangeLog, MemoryWatchLeaseRepository, MemoryWebhookRepository
from adapters.memory.drafts import MemoryDraftRepository
from adapters.memory.mail_store import (
    MemoryAccountSyncRepository,
    MemoryMailboxRepository,
    MemoryMessageQueries,
    MemoryMessageStore,
    MemorySearchIndex,
)
from adapters.memory.repositories import (
    MemoryMailAccountRepository,
    MemoryOAuthGrantRepository,
    MemoryTenantRepository,
    MemoryUserRepository,
)
from adapters.memory.store import MemoryStore
from domain.ports.persistence import SearchIndex, UnitOfWork
from domain.ports.runtime import ACCOUNTS_TOPIC, CHANGES_TOPIC, Doorbell


class MemoryUnitOfWork(UnitOfWork):
    """Keeps changes on commit and rolls them back otherwise; `committed` tells tests whether it committed."""

    def __init__(self, store: MemoryStore | None = None, doorbell: Doorbell | None = None) -> None:
        self.store = store or MemoryStore()
        self._doorbell = doorbell
        self.tenants = MemoryTenantRepository(self.store)
        self.users = MemoryUserRepository(self.store)
        self.grants = MemoryAccountGrantRepository(self.store)
        self.sessions = MemorySessionRepository(self.store)
        self.api_keys = MemoryApiKeyRepository(self.store)
        self.accounts = self._accounts = MemoryMailAccountRepository(self.store)
        self._held: list[asyncio.Lock] = []
        self.oauth_grants = MemoryOAuthGrantRepository(self.store, self._held)
        self.mailboxes = MemoryMailboxRepository(self.store)
        self.message_store = MemoryMessageStore(self.store)
        self.messages = MemoryMessageQueries(self.store)
        self.search_index: SearchIndex = MemorySearchIndex()
        self.syncs = MemoryAccountSyncRepository(self.store)
        self.drafts = MemoryDraftRepository(self.store)
        self.audit = MemoryAuditRepository(self.store)
        self.blob_references = MemoryBlobReferences(self.store)
        self.changes = MemoryChangeLog(self.store)
        self.webhooks = MemoryWebhookRepository(self.store)
        self.watches = MemoryWatchLeaseRepository(self.store)
        self.committed = False
        self._before: MemoryStore | None = None

    async def __aenter__(self) -> Self:
        self._before = self.store.snapshot()
        self.committed = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self.committed:
                await self.rollback()
        finally:
            while self._held:
                self._held.pop().release()

    async def commit(self) -> None:
        tenants = self.changes.flush()
        self.committed = True
        self._before = self.store.snapshot()
        accounts, self._accounts.touched = self._accounts.touched, set()
        if self._doorbell is not None:
            for tenant_id in tenants:
                await self._doorbell.ring(CHANGES_TOPIC, tenant_id.hex)
            for account_id in accounts:
                await self._doorbell.ring(ACCOUNTS_TOPIC, account_id.hex)

    async def rollback(self) -> None:
        self.changes.pending.clear()
        self._accounts.touched.clear()
        if self._before is not None:
            self.store.restore(self._before)
