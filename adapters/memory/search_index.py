"""A store that defers search indexing, as the SQL stores do when a sync adds messages, for tests of the
scheduled catch-up (application/messages/search_index.py). The plain in-memory store defers nothing."""

from collections.abc import Sequence
from datetime import timedelta

from adapters.memory.mail_store import MemoryMessageStore
from adapters.memory.runtime import ManualClock
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import MemoryUnitOfWork
from domain.messages import Message
from domain.ports.persistence import SearchIndex


class DeferredIndexingUnitOfWork(MemoryUnitOfWork):
    """A MemoryUnitOfWork whose messages wait for search indexing: `waiting` of them to begin with (a sync's
    backlog), and every message added since. `search_index.catch_up` indexes up to a batch of them, and
    like the messages added, that counts once the transaction commits; a rollback leaves them waiting.

    Each batch takes `seconds_per_batch` of `clock`'s time, as a database would, for tests of a time budget.
    `commits` counts the transactions committed."""

    def __init__(
        self, waiting: int, clock: ManualClock, seconds_per_batch: float = 0, store: MemoryStore | None = None
    ) -> None:
        super().__init__(store)
        self.waiting = waiting
        self.commits = 0
        self.message_store = _CountingMessageStore(self.store, self)
        self.search_index = _DeferredSearchIndex(self, clock, timedelta(seconds=seconds_per_batch))
        self._added = 0
        self._indexed = 0

    def added(self, count: int) -> None:
        self._added += count

    def indexing(self, batch: int) -> int:
        """Takes up to `batch` of the messages still waiting into this transaction's indexing."""
        done = min(batch, self.waiting - self._indexed)
        self._indexed += done
        return done

    async def commit(self) -> None:
        await super().commit()
        self.waiting += self._added - self._indexed
        self._added = self._indexed = 0
        self.commits += 1

    async def rollback(self) -> None:
        await super().rollback()
        self._added = self._indexed = 0


class _CountingMessageStore(MemoryMessageStore):
    def __init__(self, store: MemoryStore, uow: DeferredIndexingUnitOfWork) -> None:
        super().__init__(store)
        self._uow = uow

    async def add_many(self, messages: Sequence[Message]) -> None:
        await super().add_many(messages)
        self._uow.added(len(messages))


class _DeferredSearchIndex(SearchIndex):
    def __init__(self, uow: DeferredIndexingUnitOfWork, clock: ManualClock, per_batch: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._per_batch = per_batch

    async def catch_up(self, batch: int) -> int:
        done = self._uow.indexing(batch)
        self._clock.advance(self._per_batch)
        return done
