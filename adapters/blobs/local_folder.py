import asyncio
import logging
import os
import stat
import threading
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from itertools import islice
from pathlib import Path
from uuid import UUID

from domain.blobs import BlobKey, is_digest
from domain.errors import NotFound
from domain.ports.storage import BlobStore

log = logging.getLogger("mailroom.blobs")

_INCOMING = ".incoming-"
_COLLECTING = ".collecting-"
_FILE_MODE = 0o600
_FOLDER_MODE = 0o700


class LocalFolderBlobStore(BlobStore):
    """Blobs as files under `root/<tenant id hex>/ab/abcd...` (named by their SHA-256, one level of 256 folders
    as git does); keys stored before keys named their tenant live at `root/ab/abcd...`.

    Two levels (`ab/cd/`) made nearly every blob of a first sync create a folder, and folder creation was the
    dearest part of it. Writes go to a temporary file that is renamed into place, so a crash never leaves a
    half-written blob under a valid key. There is no fsync per blob: the IMAP server keeps the original, and a
    sync writes thousands of blobs a minute. File work runs in threads, a batch's files several at a time, to
    keep the event loop free.

    Mail is private: files are created 0600 and folders 0700 (a permissive umask cannot widen them), and the
    root folder is made 0700 when first used, which also closes blobs written world-readable by earlier versions.

    A file's modification time is when it was last put: putting bytes already stored touches the file. Garbage
    collection deletes a file by first renaming it aside, then reading its modification time from the renamed
    file: a put that touched it before the rename is seen (the file is put back), and a put after the rename
    finds no file and writes it again. Nothing can refresh a blob between the check and the deletion.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._root_private = False

    async def put(self, tenant_id: UUID, data: bytes) -> str:
        return (await self.put_many(tenant_id, [data]))[0]

    async def put_many(self, tenant_id: UUID, blobs: Sequence[bytes]) -> list[str]:
        loop = asyncio.get_running_loop()
        writes = (loop.run_in_executor(None, self._write, BlobKey.of(tenant_id, data), data) for data in blobs)
        return list(await asyncio.gather(*writes))

    async def get(self, tenant_id: UUID, key: str) -> bytes:
        path = self._readable_path(tenant_id, key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"blob {key} not found") from None

    async def stream(self, tenant_id: UUID, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        path = self._readable_path(tenant_id, key)
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
        await asyncio.to_thread(self._path(BlobKey.parse(key)).unlink, missing_ok=True)

    async def written_before(self, cutoff: datetime, shard: str | None, batch: int) -> AsyncIterator[list[str]]:
        await asyncio.to_thread(self._make_root_private)
        found = self._written_before(cutoff.timestamp(), shard)
        try:
            while keys := await asyncio.to_thread(lambda: list(islice(found, batch))):
                yield keys
        finally:
            found.close()

    async def delete_unless_written_since(self, keys: Sequence[str], cutoff: datetime) -> list[str]:
        parsed = [BlobKey.parse(key) for key in keys]
        threshold = cutoff.timestamp()
        return await asyncio.to_thread(lambda: [str(k) for k in parsed if self._collect(k, threshold)])

    def _readable_path(self, tenant_id: UUID, key: str) -> Path:
        parsed = BlobKey.parse(key)
        if not parsed.readable_by(tenant_id):
            raise NotFound(f"blob {key} not found")
        return self._path(parsed)

    def _path(self, key: BlobKey) -> Path:
        folder = self._root if key.tenant_id is None else self._root / key.tenant_id.hex
        return folder / key.shard / key.digest

    def _write(self, key: BlobKey, data: bytes) -> str:
        path = self._path(key)
        try:
            os.utime(path)  # stored already: it now counts as written now (see the class docstring)
            return str(key)
        except FileNotFoundError:
            pass
        self._make_folders(key)
        temporary = path.with_name(f"{_INCOMING}{key.digest}-{os.getpid()}-{threading.get_ident()}")
        temporary.unlink(missing_ok=True)  # a crashed write's, with whatever mode it had
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return str(key)

    def _make_folders(self, key: BlobKey) -> None:
        """Each level made 0700 by itself: `Path.mkdir(parents=True)` would give the tenant's folder the umask's
        mode."""
        self._make_root_private()
        shard = self._path(key).parent
        for folder in (shard.parent, shard) if key.tenant_id is not None else (shard,):
            with suppress(FileExistsError):
                os.mkdir(folder, _FOLDER_MODE)

    def _make_root_private(self) -> None:
        if self._root_private:
            return
        self._root.parent.mkdir(parents=True, exist_ok=True)
        with suppress(FileExistsError):
            os.mkdir(self._root, _FOLDER_MODE)
        if stat.S_IMODE(self._root.stat().st_mode) & ~_FOLDER_MODE:
            try:
                os.chmod(self._root, _FOLDER_MODE)
            except PermissionError:
                log.warning("cannot make %s private (mode 0700): it is not this user's folder", self._root)
        self._root_private = True

    def _written_before(self, threshold: float, shard: str | None) -> Generator[str]:
        for folder, tenant in self._shard_folders(shard):
            try:
                entries = os.scandir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        self._tidy(entry, threshold)
                    elif is_digest(entry.name) and _mtime(entry) < threshold:
                        yield entry.name if tenant is None else f"{tenant}/{entry.name}"

    def _shard_folders(self, shard: str | None) -> Iterator[tuple[Path, str | None]]:
        """The legacy shard folders, then each tenant's (a tenant folder's name is 32 hex digits)."""
        try:
            names = sorted(os.listdir(self._root))
        except FileNotFoundError:
            return
        shards = [shard] if shard is not None else [n for n in names if len(n) == 2]
        yield from ((self._root / s, None) for s in shards)
        for tenant in (n for n in names if len(n) == 32):
            folder = self._root / tenant
            if shard is not None:
                yield folder / shard, tenant
                continue
            with suppress(FileNotFoundError, NotADirectoryError):
                yield from ((folder / s, tenant) for s in sorted(os.listdir(folder)) if len(s) == 2)

    @staticmethod
    def _tidy(entry: os.DirEntry[str], threshold: float) -> None:
        """Leftovers of a crash. A half-written file older than the grace period (no live write takes that long)
        is removed. A blob renamed aside to be collected is put back for the next collection to judge again;
        should its collector still be running, it then finds the file gone and deletes nothing."""
        path = Path(entry.path)
        if entry.name.startswith(_COLLECTING):
            target = path.with_name(entry.name[len(_COLLECTING) :][:64])
            if is_digest(target.name) and not target.exists():
                with suppress(FileNotFoundError):
                    os.rename(path, target)
                return
            path.unlink(missing_ok=True)
        elif entry.name.startswith(_INCOMING) and _mtime(entry) < threshold:
            path.unlink(missing_ok=True)

    def _collect(self, key: BlobKey, threshold: float) -> bool:
        path = self._path(key)
        try:
            if os.stat(path).st_mtime >= threshold:
                return False
            aside = path.with_name(f"{_COLLECTING}{key.digest}-{os.getpid()}-{threading.get_ident()}")
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        try:
            written = os.stat(aside).st_mtime
        except FileNotFoundError:  # put back meanwhile by another collector's tidying
            return False
        if written < threshold:
            aside.unlink(missing_ok=True)
            return True
        with suppress(FileNotFoundError):
            os.replace(aside, path)  # put again since it was listed: the same bytes go back
        return False


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat().st_mtime
    except FileNotFoundError:
        return float("inf")
