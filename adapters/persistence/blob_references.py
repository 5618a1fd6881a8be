"""Which blob keys rows still name: every column that holds one, read in a single statement."""

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.tenant_scope import SCOPE_KEY, SYSTEM
from domain.ports.storage import BlobReferences

_POSTGRES = text(
    "SELECT raw_blob_key FROM messages WHERE raw_blob_key = ANY(:keys)"
    " UNION SELECT raw_blob_key FROM drafts WHERE raw_blob_key = ANY(:keys)"
    " UNION SELECT attachment ->> 'blob' FROM drafts"
    " CROSS JOIN LATERAL jsonb_array_elements(drafts.attachments) AS attachment"
    " WHERE attachment ->> 'blob' = ANY(:keys)"
)
_SQLITE = text(
    "SELECT raw_blob_key FROM messages WHERE raw_blob_key IN :keys"
    " UNION SELECT raw_blob_key FROM drafts WHERE raw_blob_key IN :keys"
    " UNION SELECT json_extract(attachment.value, '$.blob') FROM drafts, json_each(drafts.attachments) AS attachment"
    " WHERE json_extract(attachment.value, '$.blob') IN :keys"
).bindparams(bindparam("keys", expanding=True))


class SqlBlobReferences(BlobReferences):
    """Refuses to answer on Postgres outside the system scope: under row-level security a session scoped to one
    tenant, or to none, sees no other tenant's rows, and every key they name would look free to delete."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def named(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        if self._session.get_bind().dialect.name != "postgresql":
            return set((await self._session.scalars(_SQLITE, {"keys": list(keys)})).all())
        if self._session.info.get(SCOPE_KEY) != SYSTEM:
            raise RuntimeError(
                "blob references are read across tenants: "
                "open the unit of work in the system scope (TenantScope.system())"
            )
        return set((await self._session.scalars(_POSTGRES, {"keys": list(keys)})).all())
