"""The contract every UnitOfWork implementation keeps; run on SQLite, Postgres and the in-memory fake."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.accounts import EncryptedSecret, MailAccount, Security, ServerSettings, secret_binding
from domain.errors import Conflict
from domain.ids import new_id
from domain.pagination import PageRequest
from domain.ports.persistence import UnitOfWork
from domain.tenants import Role, Tenant, User

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def account(tenant: Tenant, email: str = "alice@example.com", minutes: int = 0, key_id: str = "k1") -> MailAccount:
    at, account_id = NOW + timedelta(minutes=minutes), new_id()
    return MailAccount(
        id=account_id,
        tenant_id=tenant.id,
        name="Work",
        email=email,
        imap=ServerSettings("imap.example.com", 993, Security.SSL, "alice", "imap"),
        smtp=ServerSettings("smtp.example.com", 587, Security.STARTTLS, "alice", "smtp"),
        imap_password=EncryptedSecret(key_id, b"\x00\x01imap-cipher", secret_binding(account_id, "imap_password")),
        smtp_password=EncryptedSecret(key_id, b"\x00\x02smtp-cipher", secret_binding(account_id, "smtp_password")),
        created_at=at,
        updated_at=at,
    )


async def tenant(make_uow: Callable[[], UnitOfWork], slug: str = "acme") -> Tenant:
    created = Tenant(id=new_id(), slug=slug, name=slug.title())
    async with make_uow() as uow:
        await uow.tenants.add(created)
        await uow.commit()
    return created


async def store(make_uow: Callable[[], UnitOfWork], *accounts: MailAccount) -> None:
    async with make_uow() as uow:
        for item in accounts:
            await uow.accounts.add(item)
        await uow.commit()


async def test_an_account_reads_back_exactly_as_stored(make_uow: Callable[[], UnitOfWork]) -> None:
    acme = await tenant(make_uow)
    original = account(acme)
    await store(make_uow, original)
    async with make_uow() as uow:
        assert await uow.accounts.get(acme.id, original.id) == original


async def test_leaving_without_commit_rolls_back(make_uow: Callable[[], UnitOfWork]) -> None:
    acme = await tenant(make_uow)
    async with make_uow() as uow:
        await uow.accounts.add(account(acme))
    async with make_uow() as uow:
        assert (await uow.accounts.list(acme.id, PageRequest())).total == 0


async def test_accounts_are_only_visible_to_their_tenant(make_uow: Callable[[], UnitOfWork]) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    mine = account(acme)
    await store(make_uow, mine)
    async with make_uow() as uow:
        assert await uow.accounts.get(globex.id, mine.id) is None
        assert (await uow.accounts.list(globex.id, PageRequest())).total == 0
        assert not await uow.accounts.delete(globex.id, mine.id)
        assert not await uow.accounts.email_taken(globex.id, mine.email)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.accounts.get(acme.id, mine.id) == mine


async def test_list_is_oldest_first_with_total_and_offset(make_uow: Callable[[], UnitOfWork]) -> None:
    acme = await tenant(make_uow)
    accounts = [account(acme, f"u{n}@example.com", minutes=n) for n in (3, 1, 2, 0)]
    await store(make_uow, *accounts)
    async with make_uow() as uow:
        page = await uow.accounts.list(acme.id, PageRequest(limit=2, offset=1))
    assert page.total == 4
    assert [a.email for a in page.items] == ["u1@example.com", "u2@example.com"]


async def test_an_email_is_unique_per_tenant_ignoring_case(make_uow: Callable[[], UnitOfWork]) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    await store(make_uow, account(acme, "alice@example.com"), account(globex, "alice@example.com"))
    async with make_uow() as uow:
        assert await uow.accounts.email_taken(acme.id, "ALICE@example.com")
    with pytest.raises(Conflict):
        await store(make_uow, account(acme, "Alice@Example.com"))


async def test_update_and_delete(make_uow: Callable[[], UnitOfWork]) -> None:
    acme = await tenant(make_uow)
    original = account(acme)
    await store(make_uow, original)
    changed = replace(
        original,
        name="Personal",
        imap=ServerSettings("mail.example.org", 143, Security.NONE, "al", "imap"),
        smtp_password=EncryptedSecret("k2", b"new", secret_binding(original.id, "smtp_password")),
        aliases=("support@example.com", "sales@example.com"),
        updated_at=NOW + timedelta(hours=1),
    )
    async with make_uow() as uow:
        await uow.accounts.update(changed)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.accounts.get(acme.id, original.id) == changed
        assert await uow.accounts.delete(acme.id, original.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.accounts.get(acme.id, original.id) is None


async def test_samples_of_each_key_id_in_use_across_tenants(make_uow: Callable[[], UnitOfWork]) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    half = replace(account(acme, "b@example.com", key_id="k2"), imap_password=EncryptedSecret("k1", b"x"))
    await store(make_uow, account(acme, "a@example.com", key_id="k2"), half, account(globex, key_id="k3"))
    async with make_uow() as uow:
        samples = await uow.accounts.samples_per_key_id(per_key=1)
        again = await uow.accounts.samples_per_key_id(per_key=1)
        every = await uow.accounts.samples_per_key_id(per_key=5)
    used = {s.key_id for a in samples for s in (a.imap_password, a.smtp_password)}
    assert used == {"k1", "k2", "k3"}
    assert len(samples) <= 3
    assert [a.id for a in again] == [a.id for a in samples]
    assert len(every) == 3


async def test_a_stored_password_is_bound_to_its_account_and_field(make_uow: Callable[[], UnitOfWork]) -> None:
    acme = await tenant(make_uow)
    stored = account(acme)
    await store(make_uow, stored)
    async with make_uow() as uow:
        found = await uow.accounts.get(acme.id, stored.id)
    assert found is not None
    assert found.imap_password.bound_to == secret_binding(stored.id, "imap_password")
    assert found.smtp_password.bound_to == secret_binding(stored.id, "smtp_password")


async def test_users_by_email_within_a_tenant(make_uow: Callable[[], UnitOfWork]) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    user = User(new_id(), acme.id, "alice@acme.test", "scrypt$...", Role.ADMIN, NOW)
    async with make_uow() as uow:
        await uow.users.add(user)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.users.get(user.id) == user
        assert await uow.users.get_by_email(acme.id, "alice@acme.test") == user
        assert await uow.users.get_by_email(globex.id, "alice@acme.test") is None
        assert (await uow.tenants.get_by_slug("acme")) == acme
    async with make_uow() as uow:
        with pytest.raises(Conflict):
            await uow.users.add(replace(user, id=new_id()))
