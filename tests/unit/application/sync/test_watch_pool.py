"""Inbox watches spread over processes by leases: each account watched once, a capacity per process, a dead
process's accounts taken over after its leases run out, a changed account watched anew."""

import asyncio
from datetime import timedelta
from uuid import UUID

from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.signals.local import LocalDoorbell
from application.accounts.create import CreateMailAccount
from application.accounts.delete import DeleteMailAccount
from application.sync.watch import WatchPool
from domain.tenants import Role
from tests.unit.fakes import Fakes, new_account, principal

LEASE = timedelta(seconds=30)


class Watches:
    """The watches a pool started, by account, as they would run: until cancelled."""

    def __init__(self) -> None:
        self.started: list[UUID] = []
        self.running: set[UUID] = set()

    async def __call__(self, tenant_id: UUID, account_id: UUID) -> None:
        self.started.append(account_id)
        self.running.add(account_id)
        try:
            await asyncio.Event().wait()
        finally:
            self.running.discard(account_id)


def pool(fakes: Fakes, owner: str, watches: Watches, capacity: int, doorbell: LocalDoorbell | None = None) -> WatchPool:
    uow = MemoryUnitOfWork(fakes.uow.store)
    return WatchPool(uow, watches, fakes.clock, owner, capacity, LEASE, refresh_seconds=10, doorbell=doorbell)


async def accounts(fakes: Fakes, count: int) -> list[UUID]:
    who = principal()
    create = CreateMailAccount(fakes.uow, fakes.cipher, fakes.clock, fakes.verifier, fakes.auditor)
    return [(await create(who, new_account(f"u{n}@example.com"))).id for n in range(count)]


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_each_account_is_watched_once_and_no_process_holds_more_than_its_capacity() -> None:
    fakes = Fakes()
    ids = await accounts(fakes, 5)
    a, b = Watches(), Watches()
    first, second = pool(fakes, "a", a, capacity=3), pool(fakes, "b", b, capacity=3)
    await first._round(set())
    await second._round(set())
    await settle()
    assert len(a.running) == 3
    assert len(b.running) == 2
    assert a.running | b.running == set(ids)
    assert not a.running & b.running
    await first._stop_all()
    await second._stop_all()


async def test_a_dead_process_s_accounts_are_taken_over_when_its_leases_run_out() -> None:
    fakes = Fakes()
    ids = await accounts(fakes, 3)
    a, b = Watches(), Watches()
    dead, alive = pool(fakes, "dead", a, capacity=10), pool(fakes, "alive", b, capacity=10)
    await dead._round(set())
    await alive._round(set())
    await settle()
    assert (a.running, b.running) == (set(ids), set())
    fakes.clock.advance(LEASE - timedelta(seconds=1))
    await alive._round(set())
    await settle()
    assert b.running == set(), "a live lease is not taken"
    fakes.clock.advance(timedelta(seconds=1))
    await alive._round(set())
    await settle()
    assert b.running == set(ids)
    await dead._round(set())
    await settle()
    assert a.running == set(), "the stalled process stops watching what it lost"
    await alive._stop_all()


async def test_a_deleted_account_stops_being_watched_and_a_changed_one_is_watched_anew() -> None:
    fakes = Fakes()
    ids = await accounts(fakes, 2)
    watches = Watches()
    doorbell = LocalDoorbell()
    one = pool(fakes, "a", watches, capacity=10, doorbell=doorbell)
    await one._round(set())
    await settle()
    owner = principal(Role.ADMIN)
    store = fakes.uow.store
    owner = type(owner)(owner.user_id, store.accounts[ids[0]].tenant_id, owner.role)
    await DeleteMailAccount(fakes.uow, fakes.auditor)(owner, ids[0])
    await one._round({ids[1].hex})
    await settle()
    assert watches.running == {ids[1]}
    assert watches.started.count(ids[1]) == 2, "restarted with the account's new login"
    await one._stop_all()


async def test_a_new_account_is_watched_at_the_ring_not_at_the_next_round() -> None:
    fakes = Fakes()
    watches = Watches()
    doorbell = LocalDoorbell()
    fakes.uow = MemoryUnitOfWork(fakes.uow.store, doorbell)
    running = asyncio.create_task(pool(fakes, "a", watches, capacity=10, doorbell=doorbell)())
    await settle()
    [account_id] = await accounts(fakes, 1)
    for _ in range(50):
        if account_id in watches.running:
            break
        await asyncio.sleep(0.01)
    assert watches.running == {account_id}
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert watches.running == set()
    assert fakes.uow.store.watch_leases == {}, "leases given back on the way out"
