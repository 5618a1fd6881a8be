"""The scheduled catch-up of deferred search indexing: batches until the backlog is gone, within a time budget."""

from datetime import timedelta

from adapters.memory.runtime import ManualClock
from adapters.memory.search_index import DeferredIndexingUnitOfWork
from application.messages.search_index import CatchUpSearchIndex
from tests.unit.fakes import Fakes
from tests.unit.stored_mail import StoredMail, mail


def backlog(left: int, clock: ManualClock, seconds: float) -> DeferredIndexingUnitOfWork:
    """A store with `left` messages awaiting indexing; each batch takes `seconds` of the clock's time."""
    return DeferredIndexingUnitOfWork(left, clock, seconds_per_batch=seconds)


def catch_up(uow: DeferredIndexingUnitOfWork, clock: ManualClock) -> CatchUpSearchIndex:
    return CatchUpSearchIndex(uow, clock, batch=2_000, budget=timedelta(seconds=45))


async def test_a_run_indexes_the_whole_backlog_a_committed_batch_at_a_time() -> None:
    clock = ManualClock()
    store = backlog(4_500, clock, seconds=1)

    assert await catch_up(store, clock)() == 4_500
    assert (store.waiting, store.commits) == (0, 3)
    assert await catch_up(store, clock)() == 0


async def test_a_run_stops_after_its_budget_and_the_next_one_goes_on() -> None:
    clock = ManualClock()
    store = backlog(10_000, clock, seconds=20)

    assert await catch_up(store, clock)() == 6_000  # batches end at 20, 40 and 60 s: past the 45 s budget
    assert await catch_up(store, clock)() == 4_000
    assert store.waiting == 0


async def test_the_messages_a_sync_adds_wait_for_the_next_run() -> None:
    clock = ManualClock()
    store = backlog(0, clock, seconds=1)
    world = StoredMail(Fakes(uow=store, clock=clock))
    for n in range(3):
        world.server.deliver("INBOX", mail(f"m{n}"))
    await world.synced_account()

    assert store.waiting == 3
    assert await catch_up(store, clock)() == 3
    assert store.waiting == 0
