from domain.ports.persistence import UnitOfWork

BATCH = 2_000


class CatchUpSearchIndex:
    """Run by the scheduler: does the search indexing the store deferred when messages were synced, a batch
    (one transaction) at a time until none is left. Search never waits for it (see
    `MessageRepository.catch_up_search_index`). Returns how many messages were indexed."""

    def __init__(self, uow: UnitOfWork, batch: int = BATCH) -> None:
        self._uow = uow
        self._batch = batch

    async def __call__(self) -> int:
        total = 0
        while True:
            async with self._uow as uow:
                done = await uow.messages.catch_up_search_index(self._batch)
                await uow.commit()
            total += done
            if done < self._batch:
                return total
