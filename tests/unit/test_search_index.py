"""The scheduled catch-up of deferred search indexing: batches until the backlog is gone, within a time budget."""

from datetime import timedelta
from types import TracebackType
from typing import Any, Self, cast

from adapters.memory.runtime import ManualClock
from application.messages.search_index import CatchUpSearchIndex
from domain.ports.persistence import UnitOfWork


class Backlog:
    """A store with `left` messages awaiting indexing; each batch takes `seconds` of the clock's time."""

    def __init__(self, left: int, clock: ManualClock, seconds: float) -> None:
        self.left, self.commits = left, 0
        self.messages = self
        self._clock, self._seconds = clock, seconds

    async def catch_up_search_index(self, batch: int) -> int:
        done = min(batch, self.left)
        self.left -= done
        self._clock.advance(timedelta(seconds=self._seconds))
        return done

    async def commit(self) -> None:
        self.commits += 1

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None


def catch_up(backlog: Backlog, clock: ManualClock) -> CatchUpSearchIndex:
    uow: Any = backlog
    return CatchUpSearchIndex(cast(UnitOfWork, uow), clock, batch=2_000, budget=timedelta(seconds=45))


async def test_a_run_indexes_the_whole_backlog_a_committed_batch_at_a_time() -> None:
    clock = ManualClock()
    backlog = Backlog(4_500, clock, seconds=1)

    assert await catch_up(backlog, clock)() == 4_500
    assert (backlog.left, backlog.commits) == (0, 3)
    assert await catch_up(backlog, clock)() == 0


async def test_a_run_stops_after_its_budget_and_the_next_one_goes_on() -> None:
    clock = ManualClock()
    backlog = Backlog(10_000, clock, seconds=20)

    assert await catch_up(backlog, clock)() == 6_000  # batches end at 20, 40 and 60 s: past the 45 s budget
    assert await catch_up(backlog, clock)() == 4_000
    assert backlog.left == 0
