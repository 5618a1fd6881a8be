from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from adapters.memory.store import MemoryStore
from domain.blobs import BlobKey
from domain.errors import NotFound
from domain.ports.storage import BlobReferences, BlobStore


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class MemoryBlobStore(BlobStore):
    """`written` holds when each blob was last put, read from `now` (give it a test clock's `now`)."""

    def __init__(self, now: Callable[[], datetime] = _wall_clock) -> None:
        self.blobs: dict[str, bytes] = {}
        self.written: dict[str, datetime] = {}
        self._now = now

    async def put(self, tenant_id: UUID, data: bytes) -> str:
        key = str(BlobKey.of(tenant_id, data))
        self.blobs[key] = data
        self.written[key] = self._now()
        return key

    async def put_many(self, tenant_id: UUID, blobs: Sequence[bytes]) -> list[str]:
        return [await self.put(tenant_id, data) for data in blobs]

    async def get(self, tenant_id: UUID, key: str) -> bytes:
        if not BlobKey.parse(key).readable_by(tenant_id) or key not in self.blobs:
            raise NotFound(f"blob {key} not found")
        return self.blobs[key]

    async def stream(self, tenant_id: UUID, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        data = await self.get(tenant_id, key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)
        self.written.pop(key, None)

    async def written_before(self, cutoff: datetime, shard: str | None, batch: int) -> AsyncIterator[list[str]]:
        keys = [
            key
            for key, written in self.written.items()
            if written < cutoff and (shard is None or BlobKey.parse(key).shard == shard)
        ]
        for start in range(0, len(keys), batch):
            yield keys[start : start + batch]

    async def delete_unless_written_since(self, keys: Sequence[str], cutoff: datetime) -> list[str]:
        deleted = [key for key in keys if key in self.written and self.written[key] < cutoff]
        for key in deleted:
            await self.delete(key)
        return deleted


class MemoryBlobReferences(BlobReferences):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def named(self, keys: Sequence[str]) -> set[str]:
        named = {m.raw_blob_key for m in self._store.messages.values() if m.raw_blob_key is not None}
        for draft in self._store.drafts.values():
            named.update(a.blob_key for a in draft.content.attachments)
            if draft.outgoing is not None:
                named.add(draft.outgoing.blob_key)
        return named.intersection(keys)
