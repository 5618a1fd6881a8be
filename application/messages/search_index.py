from datetime import timedelta

from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock

BATCH = 2_000
BUDGET = timedelta(seconds=45)


class CatchUpSearchIndex:
    """Run by the scheduler every minute: does the search indexing the store deferred when messages were synced,
    a batch (one transaction) at a time, until none is left or `budget` has passed, so that after a large sync the
    runs follow one another instead of piling up on the database. Search never waits for it (see
    `SearchIndex.catch_up`). Returns how many messages were indexed."""

    def __init__(self, uow: UnitOfWork, clock: Clock, batch: int = BATCH, budget: timedelta = BUDGET) -> None:
        self._uow = uow
        self._clock = clock
        self._batch = batch
        self._budget = budget

    async def __call__(self) -> int:
        total, until = 0, self._clock.now() + self._budget
        while True:
            async with self._uow as uow:
                done = await uow.search_index.catch_up(self._batch)
                await uow.commit()
            total += done
            if done < self._batch or self._clock.now() >= until:
                return total
