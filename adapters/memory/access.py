"""In-memory grants, sessions and API keys, with the SQL store's cascades."""

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from adapters.memory.store import MemoryStore
from domain.access import ApiKey, Grant, Reach, RefreshToken, Session
from domain.ports.persistence import AccountGrantRepository, ApiKeyRepository, SessionRepository
from domain.tenants import User


class MemoryAccountGrantRepository(AccountGrantRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def for_account(self, tenant_id: UUID, account_id: UUID) -> list[Grant]:
        grants = [g for g in self._store.grants.values() if g.tenant_id == tenant_id and g.account_id == account_id]
        return sorted(grants, key=lambda g: (g.granted_at, g.user_id))

    async def put(self, grant: Grant) -> bool:
        key = (grant.account_id, grant.user_id)
        stored = self._store.grants.get(key)
        self._store.grants[key] = grant if stored is None else replace(stored, access=grant.access)
        return stored is None

    async def delete(self, tenant_id: UUID, account_id: UUID, user_id: UUID) -> bool:
        stored = self._store.grants.get((account_id, user_id))
        if stored is None or stored.tenant_id != tenant_id:
            return False
        del self._store.grants[(account_id, user_id)]
        return True

    async def reach(self, tenant_id: UUID, user_id: UUID, account_id: UUID | None = None) -> dict[UUID, Reach]:
        found = {
            g.account_id: Reach.of_grant(g.access)
            for g in self._store.grants.values()
            if g.tenant_id == tenant_id and g.user_id == user_id and account_id in (None, g.account_id)
        }
        for account in self._store.accounts.values():
            if account.tenant_id == tenant_id and account.owner_id == user_id and account_id in (None, account.id):
                found[account.id] = Reach.MANAGE
        return found


class MemorySessionRepository(SessionRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, session: Session, token: RefreshToken) -> None:
        self._store.sessions[session.id] = session
        await self.add_token(token)

    async def add_token(self, token: RefreshToken) -> None:
        self._store.refresh_tokens[token.digest] = token

    async def find(self, digest: str) -> tuple[RefreshToken, Session] | None:
        token = self._store.refresh_tokens.get(digest)
        session = self._store.sessions.get(token.session_id) if token else None
        return (token, session) if token and session else None

    async def use(self, digest: str, now: datetime) -> bool:
        token = self._store.refresh_tokens.get(digest)
        if token is None or token.used_at is not None:
            return False
        self._store.refresh_tokens[digest] = replace(token, used_at=now)
        return True

    async def revoke(self, tenant_id: UUID, session_id: UUID, now: datetime) -> None:
        session = self._store.sessions.get(session_id)
        if session is not None and session.tenant_id == tenant_id and session.revoked_at is None:
            self._store.sessions[session_id] = replace(session, revoked_at=now)

    async def revoke_user(self, tenant_id: UUID, user_id: UUID, now: datetime) -> list[UUID]:
        ended = [
            s.id
            for s in self._store.sessions.values()
            if s.tenant_id == tenant_id and s.user_id == user_id and s.revoked_at is None
        ]
        for session_id in ended:
            self._store.sessions[session_id] = replace(self._store.sessions[session_id], revoked_at=now)
        return ended

    async def revoked_since(self, since: datetime) -> list[UUID]:
        return [s.id for s in self._store.sessions.values() if s.revoked_at is not None and s.revoked_at >= since]

    async def prune(self, expired_before: datetime, revoked_before: datetime) -> int:
        gone = [d for d, t in self._store.refresh_tokens.items() if t.expires_at < expired_before]
        for digest in gone:
            del self._store.refresh_tokens[digest]
        alive = {t.session_id for t in self._store.refresh_tokens.values()}
        self._store.sessions = {
            k: s
            for k, s in self._store.sessions.items()
            if k in alive or (s.revoked_at is not None and s.revoked_at >= revoked_before)
        }
        return len(gone)


class MemoryApiKeyRepository(ApiKeyRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, key: ApiKey) -> None:
        self._store.api_keys[key.id] = key

    async def get(self, tenant_id: UUID, key_id: UUID) -> ApiKey | None:
        key = self._store.api_keys.get(key_id)
        return key if key is not None and key.tenant_id == tenant_id else None

    async def list(self, tenant_id: UUID, user_id: UUID | None) -> list[ApiKey]:
        keys = [k for k in self._store.api_keys.values() if k.tenant_id == tenant_id and user_id in (None, k.user_id)]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    async def count(self, tenant_id: UUID, user_id: UUID) -> int:
        return len(await self.list(tenant_id, user_id))

    async def delete(self, tenant_id: UUID, key_id: UUID) -> bool:
        if await self.get(tenant_id, key_id) is None:
            return False
        del self._store.api_keys[key_id]
        return True

    async def find(self, digest: str) -> tuple[ApiKey, User] | None:
        key = next((k for k in self._store.api_keys.values() if k.digest == digest), None)
        user = self._store.users.get(key.user_id) if key else None
        return (key, user) if key and user else None

    async def touch(self, key_id: UUID, now: datetime) -> None:
        if (key := self._store.api_keys.get(key_id)) is not None:
            self._store.api_keys[key_id] = replace(key, last_used_at=now)
