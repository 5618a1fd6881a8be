from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from adapters.persistence.tenant_scope import TenantScopedSession


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine for `postgresql+asyncpg://` or `sqlite+aiosqlite://` URLs.

    SQLite gets foreign keys (off by default there), WAL so readers do not block the writer,
    and a busy timeout so concurrent writers wait instead of failing. Postgres gets no JIT compilation: it
    pays off for long analytical queries, and here a search whose plan merely looks costly would pay for the
    compilation on every run. And a plan made for each statement's values: asyncpg prepares statements, and the
    generic plan Postgres switches to after five runs cannot know how rare a searched word is. And
    `random_page_cost` 1.1, the usual setting for SSDs and cached data: at the default 4, the planner overprices
    reading rows one by one, and ANDs a searched word's index with a whole date range's bitmap rather than
    check the word's few thousand rows.
    A pooled connection the server has closed is replaced as it is checked out (`_replace_if_closed`).
    """
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=10,
        connect_args={
            "server_settings": {"jit": "off", "plan_cache_mode": "force_custom_plan", "random_page_cost": "1.1"}
        },
        json_serializer=json_text,
        json_deserializer=msgspec.json.decode,
    )
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Instead of `pool_pre_ping`, which costs three round trips a checkout (BEGIN, a query, ROLLBACK), on
    every request: asyncpg notices at once when the server closes a connection (a restart, an idle
    timeout, pg_terminate_backend), so a local check finds those, and the pool opens a new connection instead."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def json_text(value: Any) -> str:
    """JSON columns (addresses, attachments, keywords) through msgspec: a list page decodes 150 of them, and a
    sync batch (adapters.persistence.bulk) encodes thousands."""
    return msgspec.json.encode(value).decode()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=TenantScopedSession)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
