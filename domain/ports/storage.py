from collections.abc import AsyncIterator, Sequence
from typing import Protocol


class BlobStore(Protocol):
    """Raw messages by content: the same bytes always get the same key, and are stored once."""

    async def put(self, data: bytes) -> str:
        """Stores `data` and returns its key (the SHA-256 of the bytes, in hex)."""
        ...

    async def put_many(self, blobs: Sequence[bytes]) -> list[str]:
        """Stores each of `blobs`; the keys in the same order. One call for a sync batch."""
        ...

    async def get(self, key: str) -> bytes:
        """Raises NotFound for a key that is not stored."""
        ...

    def stream(self, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """The bytes in chunks, for answering large downloads without holding them in memory."""
        ...

    async def delete(self, key: str) -> None: ...
