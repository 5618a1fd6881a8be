import asyncio
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from adapters.memory.store import MemoryStore
from domain.accounts import GrantStatus, MailAccount
from domain.errors import Conflict
from domain.oauth import OAuthGrant
from domain.pagination import Page, PageRequest
from domain.ports.persistence import MailAccountRepository, OAuthGrantRepository, TenantRepository, UserRepository
from domain.tenants import Role, Tenant, User


class MemoryTenantRepository(TenantRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, tenant_id: UUID) -> Tenant | None:
        return self._store.tenants.get(tenant_id)

    async def get_by_slug(self, slug: str) -> Tenant | None:
        return next((t for t in self._store.tenants.values() if t.slug == slug), None)

    async def add(self, tenant: Tenant) -> None:
        if await self.get_by_slug(tenant.slug) is not None:
            raise Conflict(f"tenant {tenant.slug} already exists")
        self._store.tenants[tenant.id] = tenant

    async def lock(self, tenant_id: UUID) -> None:
        """Nothing to do: one event loop, and a unit of work here has no await between its reads and writes that
        another could slip into unnoticed (the snapshot rolls back a unit of work as a whole)."""


class MemoryUserRepository(UserRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, user_id: UUID) -> User | None:
        return self._store.users.get(user_id)

    async def get_by_email(self, tenant_id: UUID, email: str) -> User | None:
        users = self._store.users.values()
        return next((u for u in users if u.tenant_id == tenant_id and u.email == email), None)

    async def add(self, user: User) -> None:
        if await self.get_by_email(user.tenant_id, user.email) is not None:
            raise Conflict(f"{user.email} already has a login in this tenant")
        self._store.users[user.id] = user

    async def list(self, tenant_id: UUID, page: PageRequest) -> Page[User]:
        users = sorted(
            (u for u in self._store.users.values() if u.tenant_id == tenant_id),
            key=lambda u: (u.created_at or datetime.min.replace(tzinfo=UTC), u.id),
        )
        return Page(items=users[page.offset : page.offset + page.limit], total=len(users))

    async def update(self, user: User) -> None:
        stored = self._store.users.get(user.id)
        if stored is not None and stored.tenant_id == user.tenant_id:
            self._store.users[user.id] = replace(user)

    async def delete(self, tenant_id: UUID, user_id: UUID) -> bool:
        """With the user go their grants, refresh tokens, API keys and webhooks, as the database's cascades do; their
        sessions stay (revoked by then) until pruned, and an account they still own is left without an owner."""
        stored = self._store.users.get(user_id)
        if stored is None or stored.tenant_id != tenant_id:
            return False
        store = self._store
        del store.users[user_id]
        store.grants = {k: g for k, g in store.grants.items() if g.user_id != user_id}
        store.refresh_tokens = {k: t for k, t in store.refresh_tokens.items() if t.user_id != user_id}
        store.api_keys = {k: a for k, a in store.api_keys.items() if a.user_id != user_id}
        gone = {w.id for w in store.webhooks.values() if w.owner_id == user_id}
        store.webhooks = {k: w for k, w in store.webhooks.items() if k not in gone}
        store.deliveries = {k: d for k, d in store.deliveries.items() if d.webhook_id not in gone}
        store.attempts = {k: a for k, a in store.attempts.items() if a.webhook_id not in gone}
        for account in [a for a in store.accounts.values() if a.owner_id == user_id]:
            store.accounts[account.id] = replace(account, owner_id=None)
        return True

    async def count_admins(self, tenant_id: UUID) -> int:
        return sum(
            1
            for u in self._store.users.values()
            if u.tenant_id == tenant_id and u.role is Role.ADMIN and not u.disabled
        )


class MemoryMailAccountRepository(MailAccountRepository):
    """`touched` as in the SQL store: accounts added, deleted or whose IMAP login changed, for the doorbell."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.touched: set[UUID] = set()

    async def get(self, tenant_id: UUID, account_id: UUID) -> MailAccount | None:
        account = self._store.accounts.get(account_id)
        return replace(account) if account and account.tenant_id == tenant_id else None

    async def list(self, tenant_id: UUID, page: PageRequest, only: frozenset[UUID] | None = None) -> Page[MailAccount]:
        owned = sorted(
            (a for a in self._store.accounts.values() if a.tenant_id == tenant_id and (only is None or a.id in only)),
            key=lambda a: (a.created_at, a.id),
        )
        return Page(items=owned[page.offset : page.offset + page.limit], total=len(owned))

    async def hand_over(self, tenant_id: UUID, from_user: UUID, to_user: UUID) -> int:
        moved = [a for a in self._store.accounts.values() if a.tenant_id == tenant_id and a.owner_id == from_user]
        for account in moved:
            self._store.accounts[account.id] = replace(account, owner_id=to_user)
        return len(moved)

    async def email_taken(self, tenant_id: UUID, email: str, *, excluding: UUID | None = None) -> bool:
        return any(
            a.tenant_id == tenant_id and a.email.lower() == email.lower() and a.id != excluding
            for a in self._store.accounts.values()
        )

    async def with_email(self, tenant_id: UUID, email: str) -> MailAccount | None:
        wanted = email.lower()
        found = (a for a in self._store.accounts.values() if a.tenant_id == tenant_id and a.email.lower() == wanted)
        account = next(found, None)
        return replace(account) if account else None

    async def add(self, account: MailAccount) -> None:
        await self._refuse_duplicate_email(account)
        self._store.accounts[account.id] = replace(account, oauth=None)  # read with the grant, not stored
        self.touched.add(account.id)

    async def update(self, account: MailAccount) -> None:
        if (stored := await self.get(account.tenant_id, account.id)) is None:
            return
        await self._refuse_duplicate_email(account)
        self._store.accounts[account.id] = replace(account, oauth=None)  # read with the grant, not stored
        if (stored.imap, stored.imap_password) != (account.imap, account.imap_password):
            self.touched.add(account.id)

    async def _refuse_duplicate_email(self, account: MailAccount) -> None:
        if await self.email_taken(account.tenant_id, account.email, excluding=account.id):
            raise Conflict(f"an account for {account.email} already exists")

    async def delete(self, tenant_id: UUID, account_id: UUID) -> bool:
        """With the account go its folders, messages, drafts and sync status, as the database's cascades do."""
        if await self.get(tenant_id, account_id) is None:
            return False
        del self._store.accounts[account_id]
        self.touched.add(account_id)
        store = self._store
        store.mailboxes = {k: v for k, v in store.mailboxes.items() if v.account_id != account_id}
        store.messages = {k: v for k, v in store.messages.items() if v.account_id != account_id}
        store.drafts = {k: v for k, v in store.drafts.items() if v.account_id != account_id}
        store.grants = {k: v for k, v in store.grants.items() if v.account_id != account_id}
        store.syncs.pop(account_id, None)
        store.oauth_grants.pop(account_id, None)
        return True

    async def all_ids(self) -> Sequence[tuple[UUID, UUID]]:
        return [(a.tenant_id, a.id) for a in self._store.accounts.values()]

    async def samples_per_key_id(self, per_key: int) -> Sequence[MailAccount]:
        by_key: dict[str, list[MailAccount]] = {}
        for account in sorted(self._store.accounts.values(), key=lambda a: a.id):
            for key_id in {password.key_id for password in account.passwords}:
                by_key.setdefault(key_id, [])
                if len(by_key[key_id]) < per_key:
                    by_key[key_id].append(account)
        found = {a.id: replace(a) for accounts in by_key.values() for a in accounts}
        return list(found.values())


class MemoryOAuthGrantRepository(OAuthGrantRepository):
    """`lock` holds a lock per account until the unit of work ends (`held`, released by MemoryUnitOfWork): a
    renewal awaits the provider inside it, so unlike the other writes here it can interleave with another."""

    def __init__(self, store: MemoryStore, held: list[asyncio.Lock]) -> None:
        self._store = store
        self._held = held

    async def get(self, tenant_id: UUID, account_id: UUID) -> OAuthGrant | None:
        grant = self._store.oauth_grants.get(account_id)
        return replace(grant) if grant is not None and grant.tenant_id == tenant_id else None

    async def lock(self, tenant_id: UUID, account_id: UUID) -> OAuthGrant | None:
        locks: dict[UUID, asyncio.Lock] = self._store.__dict__.setdefault("_grant_locks", {})  # not rolled back
        lock = locks.setdefault(account_id, asyncio.Lock())
        await lock.acquire()
        self._held.append(lock)
        return await self.get(tenant_id, account_id)

    async def statuses(self, tenant_id: UUID, account_ids: Collection[UUID]) -> dict[UUID, GrantStatus]:
        grants = (self._store.oauth_grants.get(account_id) for account_id in account_ids)
        return {
            g.account_id: GrantStatus(g.provider, g.reauth_required, g.expires_at)
            for g in grants
            if g is not None and g.tenant_id == tenant_id
        }

    async def put(self, grant: OAuthGrant) -> None:
        self._store.oauth_grants[grant.account_id] = replace(grant)

    async def delete(self, tenant_id: UUID, account_id: UUID) -> None:
        if await self.get(tenant_id, account_id) is not None:
            del self._store.oauth_grants[account_id]
