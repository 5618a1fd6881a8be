"""Grants, sessions and API keys on SQL (Postgres or SQLite); see domain.access.

The reads that run on every request (a user's reach, a key by its digest) are single prebuilt statements over
plain rows: no ORM objects to track."""

from datetime import datetime
from typing import Any, cast
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import (
    CursorResult,
    Row,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.access_models import AccountGrantModel, ApiKeyModel, RefreshTokenModel, SessionModel
from adapters.persistence.models import MailAccountModel, UserModel
from domain.access import ApiKey, Grant, GrantAccess, Reach, RefreshToken, Scope, Session
from domain.ports.persistence import AccountGrantRepository, ApiKeyRepository, SessionRepository
from domain.tenants import Role, User

_GRANTS = cast("Table", AccountGrantModel.__table__)
_SESSIONS = cast("Table", SessionModel.__table__)
_TOKENS = cast("Table", RefreshTokenModel.__table__)
_KEYS = cast("Table", ApiKeyModel.__table__)
_ACCOUNTS = cast("Table", MailAccountModel.__table__)
_USERS = cast("Table", UserModel.__table__)


def _rowcount(result: object) -> int:
    return cast("CursorResult[Any]", result).rowcount


def _reach_of(one_account: bool) -> Any:
    """The user's owned accounts (MANAGE) and granted ones (the grant's level) in one statement; an account may
    come twice (owned and granted), and the higher level counts."""
    owned = select(_ACCOUNTS.c.id.label("account_id"), literal(int(Reach.MANAGE)).label("reach")).where(
        _ACCOUNTS.c.tenant_id == bindparam("tenant_id"), _ACCOUNTS.c.owner_id == bindparam("user_id")
    )
    level = case((_GRANTS.c.access == GrantAccess.FULL.value, int(Reach.FULL)), else_=int(Reach.READ))
    granted = select(_GRANTS.c.account_id, level.label("reach")).where(
        _GRANTS.c.tenant_id == bindparam("tenant_id"), _GRANTS.c.user_id == bindparam("user_id")
    )
    if one_account:
        owned = owned.where(_ACCOUNTS.c.id == bindparam("account_id", type_=GUID(length=16)))
        granted = granted.where(_GRANTS.c.account_id == bindparam("account_id", type_=GUID(length=16)))
    return union_all(owned, granted)


_REACH = _reach_of(one_account=False)
_REACH_OF_ONE = _reach_of(one_account=True)


class SqlAccountGrantRepository(AccountGrantRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def for_account(self, tenant_id: UUID, account_id: UUID) -> list[Grant]:
        rows = await self._session.execute(
            select(_GRANTS)
            .where(_GRANTS.c.tenant_id == tenant_id, _GRANTS.c.account_id == account_id)
            .order_by(_GRANTS.c.granted_at, _GRANTS.c.user_id)
        )
        return [_grant(row) for row in rows]

    async def put(self, grant: Grant) -> bool:
        """Inserts, or finds the row there and changes its access: of two requests granting at once, one inserts
        and the other, waiting on the first's row, updates it."""
        dialect = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        inserted = await self._session.scalar(
            dialect.insert(_GRANTS)
            .values(
                tenant_id=grant.tenant_id,
                account_id=grant.account_id,
                user_id=grant.user_id,
                access=grant.access.value,
                granted_by=grant.granted_by,
                granted_at=grant.granted_at,
            )
            .on_conflict_do_nothing(index_elements=[_GRANTS.c.account_id, _GRANTS.c.user_id])
            .returning(_GRANTS.c.account_id)
        )
        if inserted is not None:
            return True
        await self._session.execute(
            update(_GRANTS)
            .where(
                _GRANTS.c.tenant_id == grant.tenant_id,
                _GRANTS.c.account_id == grant.account_id,
                _GRANTS.c.user_id == grant.user_id,
            )
            .values(access=grant.access.value)
        )
        return False

    async def delete(self, tenant_id: UUID, account_id: UUID, user_id: UUID) -> bool:
        result = await self._session.execute(
            delete(_GRANTS).where(
                _GRANTS.c.tenant_id == tenant_id, _GRANTS.c.account_id == account_id, _GRANTS.c.user_id == user_id
            )
        )
        return bool(_rowcount(result))

    async def reach(self, tenant_id: UUID, user_id: UUID, account_id: UUID | None = None) -> dict[UUID, Reach]:
        """Runs on every request of a member: one statement, by the (tenant, owner) and (tenant, user) indexes."""
        params: dict[str, Any] = {"tenant_id": tenant_id, "user_id": user_id}
        if account_id is not None:
            params["account_id"] = account_id
        rows = await self._session.execute(_REACH if account_id is None else _REACH_OF_ONE, params)
        found: dict[UUID, Reach] = {}
        for reached, level in rows:
            found[reached] = max(found.get(reached, Reach.READ), Reach(level))
        return found


class SqlSessionRepository(SessionRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, session: Session, token: RefreshToken) -> None:
        await self._session.execute(
            _SESSIONS.insert().values(
                id=session.id,
                tenant_id=session.tenant_id,
                user_id=session.user_id,
                created_at=session.created_at,
                revoked_at=session.revoked_at,
            )
        )
        await self.add_token(token)

    async def add_token(self, token: RefreshToken) -> None:
        await self._session.execute(
            _TOKENS.insert().values(
                digest=token.digest,
                session_id=token.session_id,
                tenant_id=token.tenant_id,
                user_id=token.user_id,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def find(self, digest: str) -> tuple[RefreshToken, Session] | None:
        row = (await self._session.execute(_TOKEN_WITH_SESSION, {"digest": digest})).one_or_none()
        if row is None:
            return None
        token = RefreshToken(
            row.digest, row.session_id, row.tenant_id, row.user_id, row.issued_at, row.expires_at, row.used_at
        )
        return token, Session(row.session_id, row.tenant_id, row.user_id, row.created_at, row.revoked_at)

    async def use(self, digest: str, now: datetime) -> bool:
        result = await self._session.execute(
            update(_TOKENS).where(_TOKENS.c.digest == digest, _TOKENS.c.used_at.is_(None)).values(used_at=now)
        )
        return _rowcount(result) == 1

    async def revoke(self, tenant_id: UUID, session_id: UUID, now: datetime) -> None:
        """A session revoked already keeps the time it was first revoked."""
        await self._session.execute(
            update(_SESSIONS)
            .where(_SESSIONS.c.id == session_id, _SESSIONS.c.tenant_id == tenant_id, _SESSIONS.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user(self, tenant_id: UUID, user_id: UUID, now: datetime) -> list[UUID]:
        rows = await self._session.scalars(
            update(_SESSIONS)
            .where(_SESSIONS.c.tenant_id == tenant_id, _SESSIONS.c.user_id == user_id, _SESSIONS.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(_SESSIONS.c.id)
        )
        return list(rows)

    async def revoked_since(self, since: datetime) -> list[UUID]:
        rows = await self._session.scalars(select(_SESSIONS.c.id).where(_SESSIONS.c.revoked_at >= since))
        return list(rows)

    async def prune(self, expired_before: datetime, revoked_before: datetime) -> int:
        result = await self._session.execute(delete(_TOKENS).where(_TOKENS.c.expires_at < expired_before))
        await self._session.execute(
            delete(_SESSIONS).where(
                ~exists().where(_TOKENS.c.session_id == _SESSIONS.c.id),
                or_(_SESSIONS.c.revoked_at.is_(None), _SESSIONS.c.revoked_at < revoked_before),
            )
        )
        return _rowcount(result)


_TOKEN_WITH_SESSION = (
    select(*_TOKENS.c, _SESSIONS.c.created_at, _SESSIONS.c.revoked_at)
    .join(_SESSIONS, _SESSIONS.c.id == _TOKENS.c.session_id)
    .where(_TOKENS.c.digest == bindparam("digest"))
)


class SqlApiKeyRepository(ApiKeyRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: ApiKey) -> None:
        await self._session.execute(
            _KEYS.insert().values(
                id=key.id,
                tenant_id=key.tenant_id,
                user_id=key.user_id,
                name=key.name,
                scopes=sorted(scope.value for scope in key.scopes),
                digest=key.digest,
                hint=key.hint,
                created_at=key.created_at,
                expires_at=key.expires_at,
                last_used_at=key.last_used_at,
            )
        )

    async def get(self, tenant_id: UUID, key_id: UUID) -> ApiKey | None:
        row = (
            await self._session.execute(select(_KEYS).where(_KEYS.c.id == key_id, _KEYS.c.tenant_id == tenant_id))
        ).one_or_none()
        return _api_key(row) if row is not None else None

    async def list(self, tenant_id: UUID, user_id: UUID | None) -> list[ApiKey]:
        statement = select(_KEYS).where(_KEYS.c.tenant_id == tenant_id)
        if user_id is not None:
            statement = statement.where(_KEYS.c.user_id == user_id)
        rows = await self._session.execute(statement.order_by(_KEYS.c.created_at, _KEYS.c.id))
        return [_api_key(row) for row in rows]

    async def count(self, tenant_id: UUID, user_id: UUID) -> int:
        counted = await self._session.scalar(
            select(func.count()).select_from(_KEYS).where(_KEYS.c.tenant_id == tenant_id, _KEYS.c.user_id == user_id)
        )
        return counted or 0

    async def delete(self, tenant_id: UUID, key_id: UUID) -> bool:
        result = await self._session.execute(delete(_KEYS).where(_KEYS.c.id == key_id, _KEYS.c.tenant_id == tenant_id))
        return bool(_rowcount(result))

    async def find(self, digest: str) -> tuple[ApiKey, User] | None:
        row = (await self._session.execute(_KEY_WITH_USER, {"digest": digest})).one_or_none()
        if row is None:
            return None
        user = User(
            id=row.user_id,
            tenant_id=row.tenant_id,
            email=row.user_email,
            password_hash=row.user_password_hash,
            role=Role(row.user_role),
            created_at=row.user_created_at,
            disabled=row.user_disabled,
        )
        return _api_key(row), user

    async def touch(self, key_id: UUID, now: datetime) -> None:
        await self._session.execute(update(_KEYS).where(_KEYS.c.id == key_id).values(last_used_at=now))


_KEY_WITH_USER = (
    select(
        *_KEYS.c,
        *(
            _USERS.c[name].label(f"user_{name}")
            for name in ("email", "password_hash", "role", "created_at", "disabled")
        ),
    )
    .join(_USERS, _USERS.c.id == _KEYS.c.user_id)
    .where(_KEYS.c.digest == bindparam("digest"))
)


def _grant(row: Row[Any]) -> Grant:
    return Grant(row.tenant_id, row.account_id, row.user_id, GrantAccess(row.access), row.granted_by, row.granted_at)


def _api_key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        name=row.name,
        scopes=frozenset(Scope(name) for name in row.scopes),
        digest=row.digest,
        hint=row.hint,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )
