import hashlib
from collections.abc import AsyncIterator, Sequence

from domain.errors import NotFound
from domain.ports.storage import BlobStore


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.blobs[key] = data
        return key

    async def put_many(self, blobs: Sequence[bytes]) -> list[str]:
        return [await self.put(data) for data in blobs]

    async def get(self, key: str) -> bytes:
        if key not in self.blobs:
            raise NotFound(f"blob {key} not found")
        return self.blobs[key]

    async def stream(self, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        data = await self.get(key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)
