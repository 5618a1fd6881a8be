"""The watch lease store on each database: claims never overlap, even when processes claim at once; a lease that
ran out is taken over; a released or deleted account's lease is gone."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from domain.ports.persistence import UnitOfWork
from tests.integration.test_persistence_contract import account, store, tenant

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def claim(make_uow: Callable[[], UnitOfWork], owner: str, limit: int, now: datetime = NOW) -> set:
    async with make_uow() as uow:
        taken = await uow.watches.claim(owner, now, now + LEASE, limit)
        await uow.commit()
    return {account_id for _, account_id in taken}


async def test_processes_claiming_at_once_take_each_account_once(make_uow: Callable[[], UnitOfWork]) -> None:
    acme = await tenant(make_uow)
    accounts = [account(acme, email=f"u{n}@example.com") for n in range(40)]
    await store(make_uow, *accounts)
    owners = [f"worker-{n}" for n in range(4)]
    held: dict[str, set] = {owner: set() for owner in owners}
    for _ in range(3):  # rounds: a claim that lost a race to another takes less, and the next round the rest
        taken = await asyncio.gather(*(claim(make_uow, owner, 15 - len(held[owner])) for owner in owners))
        for owner, got in zip(owners, taken, strict=True):
            assert not any(got & mine for mine in held.values()), "an account claimed twice"
            held[owner] |= got
    assert set().union(*held.values()) == {a.id for a in accounts}
    assert all(len(mine) <= 15 for mine in held.values())
    assert await claim(make_uow, "late", 10) == set()


async def test_a_lease_that_ran_out_is_taken_over_and_renewal_keeps_the_rest(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    acme = await tenant(make_uow)
    first, second = account(acme, email="a@example.com"), account(acme, email="b@example.com")
    await store(make_uow, first, second)
    assert await claim(make_uow, "dead", 10) == {first.id, second.id}
    later = NOW + LEASE
    async with make_uow() as uow:
        assert await uow.watches.renew("dead", later, later + LEASE) == [], "a lease that ran out is not renewed"
        await uow.commit()
    [taken] = await claim(make_uow, "alive", 1, later)
    [other] = {first.id, second.id} - {taken}
    async with make_uow() as uow:
        held = await uow.watches.renew("alive", later, later + LEASE)
        assert [a for _, a in held] == [taken]
        await uow.watches.release("alive", [taken])
        await uow.accounts.delete(acme.id, other)
        await uow.commit()
    assert await claim(make_uow, "next", 10, later) == {taken}, "released: free at once; deleted: gone"
