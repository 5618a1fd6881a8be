"""Port implementations over advanced-alchemy repositories; every account query is filtered by tenant.

Each advanced-alchemy repository is made on first use: making one builds a statement, work wasted in the many
units of work (every request's token check among them) that never use it."""

from collections.abc import Collection, Sequence
from functools import cached_property
from typing import Any, cast
from uuid import UUID

from advanced_alchemy.exceptions import IntegrityError as RepositoryIntegrityError
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.types import GUID
from sqlalchemy import CursorResult, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.mappers import (
    account_from_row,
    copy_account_to_row,
    grant_from_row,
    grant_values,
    tenant_from_row,
    tenant_to_row,
    user_from_row,
    user_to_row,
)
from adapters.persistence.models import MailAccountModel, OAuthGrantModel, TenantModel, UserModel
from domain.accounts import GrantStatus, MailAccount
from domain.errors import Conflict
from domain.oauth import OAuthGrant
from domain.pagination import Page, PageRequest
from domain.ports.persistence import MailAccountRepository, OAuthGrantRepository, TenantRepository, UserRepository
from domain.tenants import Role, Tenant, User


class _TenantRows(SQLAlchemyAsyncRepository[TenantModel]):
    model_type = TenantModel


class _UserRows(SQLAlchemyAsyncRepository[UserModel]):
    model_type = UserModel


class _AccountRows(SQLAlchemyAsyncRepository[MailAccountModel]):
    model_type = MailAccountModel


class SqlTenantRepository(TenantRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @cached_property
    def _rows(self) -> _TenantRows:
        return _TenantRows(session=self._session)

    async def get(self, tenant_id: UUID) -> Tenant | None:
        row = await self._rows.get_one_or_none(id=tenant_id)
        return tenant_from_row(row) if row else None

    async def get_by_slug(self, slug: str) -> Tenant | None:
        row = await self._rows.get_one_or_none(slug=slug)
        return tenant_from_row(row) if row else None

    async def add(self, tenant: Tenant) -> None:
        try:
            await self._rows.add(tenant_to_row(tenant))
        except RepositoryIntegrityError:
            raise Conflict(f"tenant {tenant.slug} already exists") from None

    async def lock(self, tenant_id: UUID) -> None:
        """A write that changes nothing, to take the lock a write takes: the row's on Postgres, the database's on
        SQLite. Call it first in the transaction: on SQLite, a transaction that has read already cannot wait for
        the lock (SQLITE_BUSY) once another transaction has written."""
        await self._session.execute(_LOCK_TENANT, {"tenant_id": tenant_id})


_LOCK_TENANT = text("UPDATE tenants SET name = name WHERE id = :tenant_id").bindparams(
    bindparam("tenant_id", type_=GUID(length=16))
)

_USER_BY_ID = select(*UserModel.__table__.c).where(UserModel.__table__.c.id == bindparam("user_id"))


class SqlUserRepository(UserRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @cached_property
    def _rows(self) -> _UserRows:
        return _UserRows(session=self._session)

    async def get(self, user_id: UUID) -> User | None:
        """Every authenticated request reads its user: one prebuilt statement, a plain row, no ORM object to track."""
        row = (await self._session.execute(_USER_BY_ID, {"user_id": user_id})).one_or_none()
        return user_from_row(row) if row else None

    async def get_by_email(self, tenant_id: UUID, email: str) -> User | None:
        row = await self._rows.get_one_or_none(tenant_id=tenant_id, email=email)
        return user_from_row(row) if row else None

    async def add(self, user: User) -> None:
        try:
            await self._rows.add(user_to_row(user))
        except RepositoryIntegrityError:
            raise Conflict(f"{user.email} already has a login in this tenant") from None

    async def list(self, tenant_id: UUID, page: PageRequest) -> Page[User]:
        mine = UserModel.tenant_id == tenant_id
        total = await self._session.scalar(select(func.count()).select_from(UserModel).where(mine))
        rows = await self._session.scalars(
            select(UserModel)
            .where(mine)
            .order_by(UserModel.created_at, UserModel.id)
            .limit(page.limit)
            .offset(page.offset)
        )
        return Page(items=[user_from_row(row) for row in rows], total=total or 0)

    async def update(self, user: User) -> None:
        try:
            await self._session.execute(
                update(UserModel)
                .where(UserModel.id == user.id, UserModel.tenant_id == user.tenant_id)
                .values(
                    email=user.email, password_hash=user.password_hash, role=user.role.value, disabled=user.disabled
                )
            )
        except IntegrityError:
            raise Conflict(f"{user.email} already has a login in this tenant") from None

    async def delete(self, tenant_id: UUID, user_id: UUID) -> bool:
        """The database's cascades remove the rest (migration 0019); an account still owned is left ownerless."""
        result = await self._session.execute(
            delete(UserModel).where(UserModel.id == user_id, UserModel.tenant_id == tenant_id)
        )
        return bool(cast("CursorResult[Any]", result).rowcount)

    async def count_admins(self, tenant_id: UUID) -> int:
        admins = (
            select(func.count())
            .select_from(UserModel)
            .where(UserModel.tenant_id == tenant_id, UserModel.role == Role.ADMIN.value, UserModel.disabled.is_(False))
        )
        return await self._session.scalar(admins) or 0


class SqlMailAccountRepository(MailAccountRepository):
    """`touched`: accounts added, deleted, or whose IMAP login changed in this transaction, for the unit of work
    to ring the doorbell with once it commits (an inbox watch starts, stops or logs in again)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.touched: set[UUID] = set()

    @cached_property
    def _rows(self) -> _AccountRows:
        return _AccountRows(session=self._session)

    async def get(self, tenant_id: UUID, account_id: UUID) -> MailAccount | None:
        row = await self._rows.get_one_or_none(id=account_id, tenant_id=tenant_id)
        return account_from_row(row) if row else None

    async def list(self, tenant_id: UUID, page: PageRequest, only: frozenset[UUID] | None = None) -> Page[MailAccount]:
        if only is not None and not only:
            return Page(items=[], total=0)
        filters = [] if only is None else [MailAccountModel.id.in_(only)]
        rows, total = await self._rows.get_many_and_count(
            LimitOffset(limit=page.limit, offset=page.offset),
            *filters,
            tenant_id=tenant_id,
            order_by=[(MailAccountModel.created_at, False), (MailAccountModel.id, False)],
        )
        return Page(items=[account_from_row(r) for r in rows], total=total)

    async def hand_over(self, tenant_id: UUID, from_user: UUID, to_user: UUID) -> int:
        """The accounts themselves are unchanged, so `updated_at` stays."""
        result = await self._session.execute(
            update(MailAccountModel)
            .where(MailAccountModel.tenant_id == tenant_id, MailAccountModel.owner_id == from_user)
            .values(owner_id=to_user, updated_at=MailAccountModel.updated_at)
        )
        return cast("CursorResult[Any]", result).rowcount

    async def email_taken(self, tenant_id: UUID, email: str, *, excluding: UUID | None = None) -> bool:
        filters = [MailAccountModel.tenant_id == tenant_id, func.lower(MailAccountModel.email) == email.lower()]
        if excluding is not None:
            filters.append(MailAccountModel.id != excluding)
        return await self._rows.exists(*filters)

    async def with_email(self, tenant_id: UUID, email: str) -> MailAccount | None:
        rows = await self._rows.get_many(
            MailAccountModel.tenant_id == tenant_id, func.lower(MailAccountModel.email) == email.lower()
        )
        return account_from_row(rows[0]) if rows else None

    async def add(self, account: MailAccount) -> None:
        try:
            await self._rows.add(copy_account_to_row(account, MailAccountModel()))
        except RepositoryIntegrityError:
            raise Conflict(f"an account for {account.email} already exists") from None
        self.touched.add(account.id)

    async def update(self, account: MailAccount) -> None:
        row = await self._rows.get_one_or_none(id=account.id, tenant_id=account.tenant_id)
        if row is None:
            return
        login = _imap_login(row)
        copy_account_to_row(account, row)
        try:
            await self._rows.session.flush()
        except IntegrityError:
            raise Conflict(f"an account for {account.email} already exists") from None
        if _imap_login(row) != login:
            self.touched.add(account.id)

    async def delete(self, tenant_id: UUID, account_id: UUID) -> bool:
        deleted = await self._rows.delete_where(id=account_id, tenant_id=tenant_id, sanity_check=False)
        if deleted:
            self.touched.add(account_id)
        return len(deleted) > 0

    async def all_ids(self) -> Sequence[tuple[UUID, UUID]]:
        rows = await self._rows.session.execute(select(MailAccountModel.tenant_id, MailAccountModel.id))
        return [(tenant_id, account_id) for tenant_id, account_id in rows.all()]

    async def samples_per_key_id(self, per_key: int) -> Sequence[MailAccount]:
        """A handful of key ids at most, each found through the key id indexes."""
        session = self._rows.session
        in_use = select(MailAccountModel.imap_password_key_id).union(select(MailAccountModel.smtp_password_key_id))
        imap_key, smtp_key = MailAccountModel.imap_password_key_id, MailAccountModel.smtp_password_key_id
        found: dict[UUID, MailAccount] = {}
        for key_id in (await session.execute(in_use)).scalars().all():
            if not key_id:
                continue  # the empty columns of a side that signs in with OAuth2
            using = select(MailAccountModel).where(or_(imap_key == key_id, smtp_key == key_id))
            rows = await session.execute(using.order_by(MailAccountModel.id).limit(per_key))
            found |= {row.id: account_from_row(row) for row in rows.scalars()}
        return list(found.values())


def _imap_login(row: MailAccountModel) -> tuple[object, ...]:
    return (
        row.imap_host, row.imap_port, row.imap_security, row.imap_username, row.imap_auth, row.imap_password_ciphertext
    )  # fmt: skip


class SqlOAuthGrantRepository(OAuthGrantRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, tenant_id: UUID, account_id: UUID) -> OAuthGrant | None:
        return await self._read(tenant_id, account_id, lock=False)

    async def lock(self, tenant_id: UUID, account_id: UUID) -> OAuthGrant | None:
        """FOR UPDATE on Postgres; SQLite has no row locks, so a write that changes nothing takes the database's
        write lock first (see SqlTenantRepository.lock)."""
        if self._session.get_bind().dialect.name == "sqlite":
            await self._session.execute(
                update(OAuthGrantModel)
                .where(OAuthGrantModel.account_id == account_id, OAuthGrantModel.tenant_id == tenant_id)
                .values(provider=OAuthGrantModel.provider)
            )
        return await self._read(tenant_id, account_id, lock=True)

    async def _read(self, tenant_id: UUID, account_id: UUID, *, lock: bool) -> OAuthGrant | None:
        query = select(OAuthGrantModel).where(
            OAuthGrantModel.account_id == account_id, OAuthGrantModel.tenant_id == tenant_id
        )
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
        return grant_from_row(row) if row is not None else None

    async def statuses(self, tenant_id: UUID, account_ids: Collection[UUID]) -> dict[UUID, GrantStatus]:
        if not account_ids:
            return {}
        query = select(
            OAuthGrantModel.account_id, OAuthGrantModel.provider, OAuthGrantModel.reauth_required,
            OAuthGrantModel.expires_at,
        ).where(OAuthGrantModel.tenant_id == tenant_id, OAuthGrantModel.account_id.in_(account_ids))  # fmt: skip
        return {row[0]: GrantStatus(row[1], row[2], row[3]) for row in await self._session.execute(query)}

    async def put(self, grant: OAuthGrant) -> None:
        values = grant_values(grant)
        changed = await self._session.execute(
            update(OAuthGrantModel)
            .where(OAuthGrantModel.account_id == grant.account_id, OAuthGrantModel.tenant_id == grant.tenant_id)
            .values(**values)
        )
        if cast("CursorResult[Any]", changed).rowcount == 0:
            await self._session.execute(insert(OAuthGrantModel).values(**values))

    async def delete(self, tenant_id: UUID, account_id: UUID) -> None:
        await self._session.execute(
            delete(OAuthGrantModel).where(
                OAuthGrantModel.account_id == account_id, OAuthGrantModel.tenant_id == tenant_id
            )
        )
