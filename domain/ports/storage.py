from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID


class BlobStore(Protocol):
    """Raw messages and attachments by content, per tenant: a tenant's equal bytes get the same key and are
    stored once; two tenants' equal bytes are two blobs (domain.blobs says why)."""

    async def put(self, tenant_id: UUID, data: bytes) -> str:
        """Stores `data` for the tenant and returns its key (domain.blobs.BlobKey). Bytes already stored count as
        written now: that keeps them from garbage collection until the row naming them is committed."""
        ...

    async def put_many(self, tenant_id: UUID, blobs: Sequence[bytes]) -> list[str]:
        """Stores each of `blobs`; the keys in the same order. One call for a sync batch."""
        ...

    async def get(self, tenant_id: UUID, key: str) -> bytes:
        """Raises NotFound for a key that is not stored or is another tenant's."""
        ...

    def stream(self, tenant_id: UUID, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """The bytes in chunks, for answering large downloads without holding them in memory."""
        ...

    async def delete(self, key: str) -> None:
        """Removes the blob, whatever still names it. Garbage collection uses `delete_unless_written_since`."""
        ...

    def written_before(self, cutoff: datetime, shard: str | None, batch: int) -> AsyncIterator[list[str]]:
        """Keys of the blobs last written (or put again) before `cutoff`, in lists of at most `batch`; only
        those whose SHA-256 starts with `shard` (two hex digits, domain.blobs.SHARDS) unless it is None.
        Streamed, for a store of millions of blobs."""
        ...

    async def delete_unless_written_since(self, keys: Sequence[str], cutoff: datetime) -> list[str]:
        """Deletes each of `keys` last written before `cutoff`, checked at the moment of deleting, so that a
        put racing with it either refreshes the blob before it is judged (and the blob stays) or finds it gone
        and writes it again. Returns the keys deleted."""
        ...


class BlobReferences(Protocol):
    """Which blob keys the stored rows still name, for the blob garbage collection."""

    async def named(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` that a row of any tenant names: a message's original, a draft's attachment, or the
        message built when a draft was queued. One statement, so one consistent view of all of them."""
        ...
