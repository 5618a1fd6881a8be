import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from domain.errors import InvalidInput, NotFound
from domain.ports.storage import BlobStore

_KEY = re.compile(r"^[0-9a-f]{64}$")


class LocalFolderBlobStore(BlobStore):
    """Blobs as files named by their SHA-256 under `root/ab/cd/abcd...`.

    Writes go to a temporary file that is renamed into place, so a crash never leaves a half-written blob
    under a valid key. There is no fsync per blob: the IMAP server keeps the original, and a sync writes
    thousands of blobs a minute. File work runs in threads to keep the event loop free.
    """

    def __init__(self, root: Path) -> None:
        self._root = root

    async def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, key, data)
        return key

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"blob {key} not found") from None

    async def stream(self, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {key} not found") from None
        try:
            while chunk := await asyncio.to_thread(file.read, chunk_size):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise InvalidInput("key", "not a blob key")
        return self._root / key[:2] / key[2:4] / key

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
