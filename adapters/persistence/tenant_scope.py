"""Which tenant's rows the current request or job may touch, for Postgres row-level security.

Every transaction of a SqlUnitOfWork starts with `set_config('app.tenant_id', …, true)` from this context; the
policies of migration 0008 let a session see and write only rows of that tenant. Unset, a session sees no rows.
`RowLevelTenantScope.system()` is for the few paths that must cross tenants (login before the tenant is known, the
scheduler, key rotation, the inbox watches, operators' commands); every API request and per-tenant job runs
scoped."""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from uuid import UUID

from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from domain.ports.persistence import TenantScope

SYSTEM = "*"
SCOPE_KEY = "mailroom.tenant_scope"
SET_SCOPE = text("SELECT set_config('app.tenant_id', :scope, true)")
current_tenant_scope: ContextVar[str] = ContextVar("tenant_scope", default="")


class RowLevelTenantScope(TenantScope):
    """Sets the scope in a contextvar, which a unit of work reads as it opens (not as it is built): a use case
    resolved before the scope is entered still runs in it."""

    def __call__(self, tenant_id: UUID) -> AbstractContextManager[None]:
        return _entered(str(tenant_id))

    def system(self) -> AbstractContextManager[None]:
        return _entered(SYSTEM)


@contextmanager
def _entered(scope: str) -> Iterator[None]:
    token = current_tenant_scope.set(scope)
    try:
        yield
    finally:
        current_tenant_scope.reset(token)


class TenantScopedSession(Session):
    """Sessions whose `info` names a tenant scope (a unit of work sets it as it opens) begin each Postgres
    transaction with it. One listener on this class, registered once at import, rather than one added to each
    session as it opens, which would set up that session's own event dispatch in every unit of work."""


@event.listens_for(TenantScopedSession, "after_begin")
def _scope_transaction(session: Session, _: SessionTransaction, connection: Connection) -> None:
    scope = session.info.get(SCOPE_KEY)
    if scope is not None and connection.dialect.name == "postgresql":
        connection.execute(SET_SCOPE, {"scope": scope})


async def rescope(session: AsyncSession, scope: str) -> None:
    """Points an open transaction at another tenant scope (row-level security reads the setting per statement)."""
    if session.info.get(SCOPE_KEY) != scope:
        session.info[SCOPE_KEY] = scope
        await session.execute(SET_SCOPE, {"scope": scope})
