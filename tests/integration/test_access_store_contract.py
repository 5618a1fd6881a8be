"""The contract of the per-user access store (users, account owners and grants, sessions, API keys); on SQLite,
Postgres and the in-memory fake."""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.persistence.database import create_session_factory
from adapters.persistence.unit_of_work import SqlUnitOfWork
from domain.access import ApiKey, Grant, GrantAccess, Reach, RefreshToken, Scope, Session
from domain.accounts import MailAccount
from domain.ids import new_id
from domain.pagination import PageRequest
from domain.ports.persistence import UnitOfWork
from domain.tenants import Role, Tenant, User
from domain.webhooks import AttemptOutcome
from tests.integration.conftest import migrated_engine
from tests.integration.test_change_log_contract import add_webhooks, attempt, delivery, webhook
from tests.integration.test_persistence_contract import account, tenant

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
Factory = Callable[[], UnitOfWork]


def user(owner: Tenant, name: str, role: Role = Role.MEMBER, minutes: int = 0, disabled: bool = False) -> User:
    return User(
        new_id(), owner.id, f"{name}@{owner.slug}.test", "scrypt$...", role, NOW + timedelta(minutes=minutes), disabled
    )


async def add_users(make_uow: Factory, *users: User) -> None:
    async with make_uow() as uow:
        for item in users:
            await uow.users.add(item)
        await uow.commit()


async def add_accounts(make_uow: Factory, *accounts: MailAccount) -> None:
    async with make_uow() as uow:
        for item in accounts:
            await uow.accounts.add(item)
        await uow.commit()


def owned(owner: Tenant, by: User | None, email: str, minutes: int = 0) -> MailAccount:
    return replace(account(owner, email, minutes), owner_id=None if by is None else by.id)


def grant(on: MailAccount, to: User, access: GrantAccess = GrantAccess.READ, minutes: int = 0) -> Grant:
    return Grant(on.tenant_id, on.id, to.id, access, None, NOW + timedelta(minutes=minutes))


async def put_grants(make_uow: Factory, *grants: Grant) -> list[bool]:
    async with make_uow() as uow:
        news = [await uow.grants.put(item) for item in grants]
        await uow.commit()
    return news


def sign_in(of: User, minutes: int = 0) -> tuple[Session, RefreshToken]:
    session = Session(new_id(), of.tenant_id, of.id, NOW + timedelta(minutes=minutes))
    return session, token(session, minutes)


def token(session: Session, minutes: int = 0, lasts: timedelta = timedelta(days=30)) -> RefreshToken:
    issued = NOW + timedelta(minutes=minutes)
    digest = RefreshToken.digest_of(RefreshToken.new_secret())
    return RefreshToken(digest, session.id, session.tenant_id, session.user_id, issued, issued + lasts)


def api_key(of: User, name: str = "CI", minutes: int = 0, scopes: frozenset[Scope] = frozenset({Scope.READ})) -> ApiKey:
    secret = ApiKey.new_secret()
    return ApiKey(
        new_id(),
        of.tenant_id,
        of.id,
        name,
        scopes,
        ApiKey.digest_of(secret),
        secret[:8],
        NOW + timedelta(minutes=minutes),
    )


async def test_users_are_listed_oldest_first_and_updated(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    ada, bob, cy = user(acme, "ada", minutes=2), user(acme, "bob", minutes=0), user(acme, "cy", minutes=1)
    await add_users(make_uow, ada, bob, cy, user(globex, "eve"))
    async with make_uow() as uow:
        page = await uow.users.list(acme.id, PageRequest(limit=2, offset=1))
        assert page.total == 3
        assert [u.id for u in page.items] == [cy.id, ada.id]
    changed = replace(ada, email="ada@new.test", password_hash="scrypt$new", role=Role.ADMIN, disabled=True)
    async with make_uow() as uow:
        await uow.users.update(changed)
        await uow.users.update(replace(bob, tenant_id=globex.id, email="taken@globex.test"))
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.users.get(ada.id) == changed
        assert await uow.users.get_by_email(acme.id, "ada@new.test") == changed
        assert await uow.users.get(bob.id) == bob


async def test_admins_are_counted_per_tenant_without_the_disabled_ones(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    ada = user(acme, "ada", Role.ADMIN)
    await add_users(
        make_uow,
        ada,
        user(acme, "bob", Role.ADMIN, disabled=True),
        user(acme, "cy"),
        user(globex, "eve", Role.ADMIN),
        user(globex, "fay", Role.ADMIN),
    )
    async with make_uow() as uow:
        assert await uow.users.count_admins(acme.id) == 1
        assert await uow.users.count_admins(globex.id) == 2
        await uow.users.update(replace(ada, disabled=True))
        assert await uow.users.count_admins(acme.id) == 0


async def test_deleting_a_user_deletes_their_grants_tokens_keys_and_webhooks_and_keeps_ended_sessions(
    make_uow: Factory,
) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    admin, member = user(acme, "ada", Role.ADMIN), user(acme, "bob")
    await add_users(make_uow, admin, member)
    theirs, shared = owned(acme, member, "bob@acme.test"), owned(acme, admin, "ada@acme.test")
    await add_accounts(make_uow, theirs, shared)
    await put_grants(make_uow, grant(shared, member, GrantAccess.FULL))
    session, refresh = sign_in(member)
    key = api_key(member)
    hook, kept = replace(webhook(acme), owner_id=member.id), replace(webhook(acme), owner_id=admin.id)
    pending = delivery(hook, 1, NOW)
    await add_webhooks(make_uow, hook, kept, deliveries=(pending,))
    async with make_uow() as uow:
        await uow.sessions.add(session, refresh)
        await uow.api_keys.add(key)
        await uow.webhooks.finish_attempts([pending], [attempt(pending, 1, AttemptOutcome(500, 10, None), NOW)])
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.accounts.hand_over(acme.id, member.id, admin.id) == 1
        assert await uow.sessions.revoke_user(acme.id, member.id, NOW) == [session.id]
        assert not await uow.users.delete(globex.id, member.id)
        assert await uow.users.delete(acme.id, member.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.users.get(member.id) is None
        assert not await uow.users.delete(acme.id, member.id)
        assert await uow.grants.for_account(acme.id, shared.id) == []
        assert await uow.grants.reach(acme.id, member.id) == {}
        assert await uow.sessions.find(refresh.digest) is None
        assert await uow.sessions.revoked_since(NOW) == [session.id], "kept for the revocation list's refill"
        assert await uow.api_keys.find(key.digest) is None
        assert await uow.api_keys.list(acme.id, None) == []
        assert await uow.webhooks.get(acme.id, hook.id) is None
        assert await uow.webhooks.attempts(acme.id, hook.id, None, 10) == []
        assert await uow.webhooks.next_due(acme.id) is None
        assert [h.id for h in await uow.webhooks.for_tenant(acme.id)] == [kept.id]
        assert await uow.accounts.get(acme.id, theirs.id) == replace(theirs, owner_id=admin.id)
        assert await uow.accounts.get(acme.id, shared.id) == shared
        assert await uow.grants.reach(acme.id, admin.id) == {theirs.id: Reach.MANAGE, shared.id: Reach.MANAGE}


async def test_an_account_not_handed_over_is_left_without_an_owner(make_uow: Factory) -> None:
    acme = await tenant(make_uow)
    member = user(acme, "bob")
    await add_users(make_uow, member)
    theirs = owned(acme, member, "bob@acme.test")
    await add_accounts(make_uow, theirs)
    async with make_uow() as uow:
        assert await uow.users.delete(acme.id, member.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.accounts.get(acme.id, theirs.id) == replace(theirs, owner_id=None)


async def test_hand_over_moves_only_that_users_accounts_in_that_tenant(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    ada, bob, cy = user(acme, "ada", Role.ADMIN), user(acme, "bob"), user(acme, "cy")
    await add_users(make_uow, ada, bob, cy)
    bobs = [owned(acme, bob, "b1@acme.test"), owned(acme, bob, "b2@acme.test")]
    cys = owned(acme, cy, "c@acme.test")
    await add_accounts(make_uow, *bobs, cys)
    async with make_uow() as uow:
        assert await uow.accounts.hand_over(globex.id, bob.id, ada.id) == 0
        assert await uow.accounts.hand_over(acme.id, bob.id, ada.id) == 2
        assert await uow.accounts.hand_over(acme.id, bob.id, ada.id) == 0
        await uow.commit()
    async with make_uow() as uow:
        assert [a.owner_id for a in (await uow.accounts.list(acme.id, PageRequest())).items] == [ada.id, ada.id, cy.id]
        assert await uow.accounts.get(acme.id, bobs[0].id) == replace(bobs[0], owner_id=ada.id)


async def test_a_grant_is_added_then_its_access_changed_then_deleted(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    ada, bob, cy = user(acme, "ada", Role.ADMIN), user(acme, "bob"), user(acme, "cy")
    await add_users(make_uow, ada, bob, cy)
    shared = owned(acme, ada, "ada@acme.test")
    await add_accounts(make_uow, shared)
    to_bob = replace(grant(shared, bob, minutes=1), granted_by=ada.id)
    to_cy = grant(shared, cy, GrantAccess.FULL)
    assert await put_grants(make_uow, to_bob, to_cy) == [True, True]
    assert await put_grants(
        make_uow, replace(to_bob, access=GrantAccess.FULL, granted_at=NOW + timedelta(hours=1))
    ) == [False]
    async with make_uow() as uow:
        assert await uow.grants.for_account(acme.id, shared.id) == [to_cy, replace(to_bob, access=GrantAccess.FULL)]
        assert await uow.grants.for_account(globex.id, shared.id) == []
        assert not await uow.grants.delete(globex.id, shared.id, bob.id)
        assert await uow.grants.delete(acme.id, shared.id, bob.id)
        assert not await uow.grants.delete(acme.id, shared.id, bob.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.grants.for_account(acme.id, shared.id) == [to_cy]
        assert await uow.accounts.delete(acme.id, shared.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.grants.for_account(acme.id, shared.id) == []
        assert await uow.grants.reach(acme.id, cy.id) == {}


async def test_reach_is_what_a_user_owns_and_what_is_granted_to_them(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    ada, bob, eve = user(acme, "ada", Role.ADMIN), user(acme, "bob"), user(globex, "eve")
    await add_users(make_uow, ada, bob, eve)
    bobs, read, full, both = (
        owned(acme, bob, "bob@acme.test"),
        owned(acme, ada, "r@acme.test"),
        owned(acme, ada, "f@acme.test"),
        owned(acme, bob, "both@acme.test"),
    )
    others, nobodys, eves = (
        owned(acme, ada, "o@acme.test"),
        owned(acme, None, "n@acme.test"),
        owned(globex, eve, "e@g.test"),
    )
    await add_accounts(make_uow, bobs, read, full, both, others, nobodys, eves)
    await put_grants(make_uow, grant(read, bob), grant(full, bob, GrantAccess.FULL), grant(both, bob, GrantAccess.READ))
    async with make_uow() as uow:
        assert await uow.grants.reach(acme.id, bob.id) == {
            bobs.id: Reach.MANAGE,
            read.id: Reach.READ,
            full.id: Reach.FULL,
            both.id: Reach.MANAGE,
        }
        assert await uow.grants.reach(acme.id, bob.id, full.id) == {full.id: Reach.FULL}
        assert await uow.grants.reach(acme.id, bob.id, both.id) == {both.id: Reach.MANAGE}
        assert await uow.grants.reach(acme.id, bob.id, others.id) == {}
        assert await uow.grants.reach(acme.id, bob.id, eves.id) == {}
        assert await uow.grants.reach(globex.id, bob.id) == {}
        assert await uow.grants.reach(acme.id, eve.id) == {}
        assert await uow.grants.reach(globex.id, eve.id) == {eves.id: Reach.MANAGE}
        assert await uow.grants.reach(acme.id, ada.id) == {
            read.id: Reach.MANAGE,
            full.id: Reach.MANAGE,
            others.id: Reach.MANAGE,
        }


async def test_accounts_are_listed_only_among_those_asked_for(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    first, second, third = (owned(acme, None, f"u{n}@acme.test", minutes=n) for n in range(3))
    foreign = owned(globex, None, "u@globex.test")
    await add_accounts(make_uow, first, second, third, foreign)
    async with make_uow() as uow:
        nothing = await uow.accounts.list(acme.id, PageRequest(), only=frozenset())
        assert (list(nothing.items), nothing.total) == ([], 0)
        some = await uow.accounts.list(acme.id, PageRequest(), only=frozenset({third.id, first.id, foreign.id}))
        assert ([a.id for a in some.items], some.total) == ([first.id, third.id], 2)
        paged = await uow.accounts.list(acme.id, PageRequest(limit=1, offset=1), only=frozenset({third.id, first.id}))
        assert ([a.id for a in paged.items], paged.total) == ([third.id], 2)
        assert (await uow.accounts.list(acme.id, PageRequest(), only=None)).total == 3


async def test_a_refresh_token_is_found_with_its_session_and_used_once(make_uow: Factory) -> None:
    acme = await tenant(make_uow)
    bob = user(acme, "bob")
    await add_users(make_uow, bob)
    session, first = sign_in(bob)
    second = token(session, minutes=5)
    async with make_uow() as uow:
        await uow.sessions.add(session, first)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.sessions.find(first.digest) == (first, session)
        assert await uow.sessions.find("0" * 64) is None
        assert await uow.sessions.use(first.digest, NOW + timedelta(minutes=5))
        await uow.sessions.add_token(second)
        await uow.commit()
    async with make_uow() as uow:
        assert not await uow.sessions.use(first.digest, NOW + timedelta(minutes=6))
        assert not await uow.sessions.use("0" * 64, NOW)
        assert await uow.sessions.find(first.digest) == (replace(first, used_at=NOW + timedelta(minutes=5)), session)
        assert await uow.sessions.find(second.digest) == (second, session)


async def test_sessions_are_revoked_once_and_listed_by_when(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    bob, cy = user(acme, "bob"), user(acme, "cy")
    await add_users(make_uow, bob, cy)
    (one, one_token), (two, _), (three, _), (cys, _) = sign_in(bob), sign_in(bob, 1), sign_in(bob, 2), sign_in(cy)
    async with make_uow() as uow:
        await uow.sessions.add(one, one_token)
        for session in (two, three, cys):
            await uow.sessions.add(session, token(session))
        await uow.commit()
    later = NOW + timedelta(hours=1)
    async with make_uow() as uow:
        await uow.sessions.revoke(globex.id, one.id, later)
        assert await uow.sessions.revoked_since(NOW) == []
        await uow.sessions.revoke(acme.id, one.id, later)
        await uow.sessions.revoke(acme.id, one.id, later + timedelta(hours=1))
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.sessions.find(one_token.digest) == (one_token, replace(one, revoked_at=later))
        assert await uow.sessions.revoke_user(globex.id, bob.id, later) == []
        assert sorted(await uow.sessions.revoke_user(acme.id, bob.id, later + timedelta(hours=2))) == sorted(
            [two.id, three.id]
        )
        assert await uow.sessions.revoke_user(acme.id, bob.id, later + timedelta(hours=3)) == []
        await uow.commit()
    async with make_uow() as uow:
        assert sorted(await uow.sessions.revoked_since(later)) == sorted([one.id, two.id, three.id])
        assert sorted(await uow.sessions.revoked_since(later + timedelta(minutes=1))) == sorted([two.id, three.id])
        assert await uow.sessions.revoked_since(later + timedelta(hours=3)) == []


async def test_pruning_deletes_expired_tokens_and_sessions_left_without_any(make_uow: Factory) -> None:
    acme = await tenant(make_uow)
    bob = user(acme, "bob")
    await add_users(make_uow, bob)
    old, fresh = Session(new_id(), acme.id, bob.id, NOW), Session(new_id(), acme.id, bob.id, NOW)
    old_token = token(old, lasts=timedelta(days=1))
    mixed = [token(fresh, lasts=timedelta(days=1)), token(fresh, lasts=timedelta(days=30))]
    async with make_uow() as uow:
        await uow.sessions.add(old, old_token)
        await uow.sessions.add(fresh, mixed[0])
        await uow.sessions.add_token(mixed[1])
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.sessions.prune(NOW + timedelta(days=1), NOW) == 0
        assert await uow.sessions.prune(NOW + timedelta(days=2), NOW) == 2
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.sessions.find(old_token.digest) is None
        assert await uow.sessions.find(mixed[0].digest) is None
        assert await uow.sessions.find(mixed[1].digest) == (mixed[1], fresh)
        await uow.sessions.revoke(acme.id, old.id, NOW)
        await uow.sessions.revoke(acme.id, fresh.id, NOW)
        assert await uow.sessions.revoked_since(NOW) == [fresh.id]


async def test_api_keys_are_kept_per_user_and_found_by_digest_with_their_user(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    ada, bob = user(acme, "ada", Role.ADMIN), user(acme, "bob")
    await add_users(make_uow, ada, bob)
    everything = frozenset(Scope)
    bobs = [api_key(bob, "CI", minutes=2), api_key(bob, "Zapier", minutes=1, scopes=everything)]
    adas = replace(api_key(ada, "Backup"), expires_at=NOW + timedelta(days=90))
    async with make_uow() as uow:
        for key in (*bobs, adas):
            await uow.api_keys.add(key)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.api_keys.get(acme.id, bobs[0].id) == bobs[0]
        assert await uow.api_keys.get(globex.id, bobs[0].id) is None
        assert await uow.api_keys.list(acme.id, bob.id) == [bobs[1], bobs[0]]
        assert await uow.api_keys.list(acme.id, None) == [adas, bobs[1], bobs[0]]
        assert await uow.api_keys.list(globex.id, None) == []
        assert await uow.api_keys.count(acme.id, bob.id) == 2
        assert await uow.api_keys.count(globex.id, bob.id) == 0
        assert await uow.api_keys.find(bobs[1].digest) == (bobs[1], bob)
        assert await uow.api_keys.find(adas.digest) == (adas, ada)
        assert await uow.api_keys.find("0" * 64) is None
        await uow.api_keys.touch(bobs[1].id, NOW + timedelta(days=1))
        assert not await uow.api_keys.delete(globex.id, bobs[0].id)
        assert await uow.api_keys.delete(acme.id, bobs[0].id)
        assert not await uow.api_keys.delete(acme.id, bobs[0].id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.api_keys.list(acme.id, bob.id) == [replace(bobs[1], last_used_at=NOW + timedelta(days=1))]
        assert await uow.api_keys.count(acme.id, bob.id) == 1
        await uow.users.update(replace(bob, disabled=True))
        assert await uow.api_keys.find(bobs[1].digest) == (
            replace(bobs[1], last_used_at=NOW + timedelta(days=1)),
            replace(bob, disabled=True),
        )


@pytest.fixture(params=["postgres", "sqlite"])
async def session_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_engine(request.param, request, tmp_path) as engine:
        yield create_session_factory(engine)


async def test_of_two_refreshes_at_once_with_one_token_only_one_uses_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    def make_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(session_factory)

    acme = await tenant(make_uow)
    bob = user(acme, "bob")
    await add_users(make_uow, bob)
    session, refresh = sign_in(bob)
    async with make_uow() as uow:
        await uow.sessions.add(session, refresh)
        await uow.commit()

    async def refresh_once(pause: float) -> bool:
        async with make_uow() as uow:
            used = await uow.sessions.use(refresh.digest, NOW)
            await asyncio.sleep(pause)
            await uow.commit()
        return used

    first = asyncio.create_task(refresh_once(0.3))
    await asyncio.sleep(0.1)
    assert sorted(await asyncio.gather(first, refresh_once(0))) == [False, True]


async def test_transactions_that_lock_the_tenant_run_one_after_another(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """What keeps the last admin: each checks the count under the lock, so the second sees the first's change."""

    def make_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(session_factory)

    acme = await tenant(make_uow)
    ada, bob = user(acme, "ada", Role.ADMIN), user(acme, "bob", Role.ADMIN)
    await add_users(make_uow, ada, bob)

    async def demote(who: User, pause: float) -> bool:
        async with make_uow() as uow:
            await uow.tenants.lock(acme.id)
            if await uow.users.count_admins(acme.id) < 2:
                return False
            await asyncio.sleep(pause)
            await uow.users.update(replace(who, role=Role.MEMBER))
            await uow.commit()
        return True

    first = asyncio.create_task(demote(ada, 0.3))
    await asyncio.sleep(0.1)
    assert list(await asyncio.gather(first, demote(bob, 0))) == [True, False]
    async with make_uow() as uow:
        assert await uow.users.count_admins(acme.id) == 1


async def test_pruning_keeps_a_session_revoked_while_its_access_tokens_may_live(make_uow: Factory) -> None:
    acme = await tenant(make_uow)
    bob = user(acme, "bob")
    await add_users(make_uow, bob)
    ended = Session(new_id(), acme.id, bob.id, NOW)
    async with make_uow() as uow:
        await uow.sessions.add(ended, token(ended, lasts=timedelta(days=1)))
        await uow.sessions.revoke(acme.id, ended.id, NOW + timedelta(days=2))
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.sessions.prune(NOW + timedelta(days=3), NOW + timedelta(days=2)) == 1
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.sessions.revoked_since(NOW) == [ended.id], "revoked at the cut-off: kept"
        assert await uow.sessions.prune(NOW + timedelta(days=3), NOW + timedelta(days=2, minutes=1)) == 0
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.sessions.revoked_since(NOW) == []
