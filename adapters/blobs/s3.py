import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import aiohttp
import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from adapters.blobs.s3_rename import Refused, RenameClient, Unsupported
from domain.blobs import SHARDS, BlobKey
from domain.errors import InvalidInput, NotFound
from domain.ports.storage import BlobStore

log = logging.getLogger("mailroom.blobs")

_COLLECTING = ".collecting"
_MISSING = (FileNotFoundError, NotFoundError)  # obstore raises the builtin one for a missing object
_LIST_PAGE = 1000


class BlobStoreUnreachable(Exception):
    """The bucket cannot be used: missing, refused credentials, or no answer. The message says which."""


@dataclass(frozen=True, slots=True)
class S3Location:
    """`s3://bucket/prefix`: where the blobs go; the prefix (may be empty) keeps them apart from other objects."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("an s3://bucket or s3://bucket/prefix address")
        prefix = parts.path.strip("/")
        if any(segment in ("", ".", "..") for segment in prefix.split("/")) and prefix:
            raise ValueError("a prefix of non-empty segments, without . or ..")
        return cls(parts.netloc, prefix)

    def object(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative


class S3BlobStore(BlobStore):
    """Blobs as objects of an S3 bucket at `<prefix>/<shard>/<tenant id hex>/<SHA-256>` (keys stored before keys
    named their tenant at `<prefix>/<shard>/<SHA-256>`): the shard, the SHA-256's first two hex digits, comes
    first so that garbage collection lists one shard with one prefix listing.

    Objects get no ACL and no public policy from here: the bucket's own (private unless its owner opened it) is
    theirs. One client (obstore's S3Store, its own connection pool) serves the process.

    An object's Last-Modified is when it was last put: a put always uploads the bytes, so that putting bytes
    already stored refreshes it, and with it the blob's protection from garbage collection. Last-Modified has
    second precision, so a blob counts as written before a cutoff only if its second ended by then.

    Garbage collection deletes as the local folder does, where the server offers S3 RenameObject with a source
    condition (SeaweedFS does, under the object's write lock): the object is moved aside to
    `<prefix>/.collecting/<shard>/...` only if unmodified since the cutoff, its Last-Modified is read again from the
    moved object (a put that slipped in before the move is seen there, and the object is moved back), and only then
    deleted. A put after the move writes a new object at the key. Nothing can refresh a blob between the check and
    the deletion.

    Where RenameObject is missing (AWS offers it on directory buckets only; a general purpose bucket has no
    conditional delete on time either, and If-Match on an ETag cannot tell a re-put of the same bytes, which keeps
    its MD5 ETag), or without static credentials to sign it, deletion falls back to reading Last-Modified and then
    deleting: a put of the same bytes landing between that read's answer and the delete is lost (one round trip,
    milliseconds, per collected blob; the grace period makes a put of a long-unreferenced blob rare). A warning is
    logged once when this fallback is first used.
    """

    def __init__(
        self,
        location: S3Location,
        *,
        endpoint: str = "",
        region: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
        concurrency: int = 16,
    ) -> None:
        self._location = location
        options: dict[str, object] = {}
        if endpoint:
            options["endpoint"] = endpoint
        if region:
            options["region"] = region
        if access_key_id:
            options["access_key_id"] = access_key_id
            options["secret_access_key"] = secret_access_key
        self._store = S3Store(
            location.bucket,
            client_options={"allow_http": endpoint.startswith("http://")},
            **options,  # type: ignore[arg-type]
        )
        self._renames = (
            RenameClient(endpoint, location.bucket, region or "us-east-1", access_key_id, secret_access_key)
            if endpoint and access_key_id and secret_access_key
            else None
        )
        self._concurrency = concurrency
        self._warned = False
        self._renames_checked = False

    def __repr__(self) -> str:
        return f"S3BlobStore({self._location!r})"

    async def put(self, tenant_id: UUID, data: bytes) -> str:
        return (await self.put_many(tenant_id, [data]))[0]

    async def put_many(self, tenant_id: UUID, blobs: Sequence[bytes]) -> list[str]:
        keys = [BlobKey.of(tenant_id, data) for data in blobs]
        unique = {str(key): (key, data) for key, data in zip(keys, blobs, strict=True)}
        limit = asyncio.Semaphore(self._concurrency)

        async def write(key: BlobKey, data: bytes) -> None:
            async with limit:
                await obstore.put_async(self._store, self._path(key), data)

        with _translated():
            await asyncio.gather(*(write(key, data) for key, data in unique.values()))
        return [str(key) for key in keys]

    async def get(self, tenant_id: UUID, key: str) -> bytes:
        path = self._readable_path(tenant_id, key)
        with _translated(key):
            result = await obstore.get_async(self._store, path)
            return bytes(await result.bytes_async())

    async def stream(self, tenant_id: UUID, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        path = self._readable_path(tenant_id, key)
        with _translated(key):
            result = await obstore.get_async(self._store, path)
        pending = bytearray()
        with _translated(key):
            async for piece in result.stream(min_chunk_size=chunk_size):
                pending += piece
                while len(pending) >= chunk_size:
                    yield bytes(pending[:chunk_size])
                    del pending[:chunk_size]
        if pending:
            yield bytes(pending)

    async def delete(self, key: str) -> None:
        with _translated(), suppress(*_MISSING):
            await obstore.delete_async(self._store, self._path(BlobKey.parse(key)))

    async def written_before(self, cutoff: datetime, shard: str | None, batch: int) -> AsyncIterator[list[str]]:
        last_second = _last_second(cutoff)
        found: list[str] = []
        for prefix in [shard] if shard is not None else SHARDS:
            with _translated():
                await self._tidy(prefix)
                pages = obstore.list(self._store, self._location.object(prefix), chunk_size=_LIST_PAGE)
            while page := await _next_page(pages):
                for meta in page:
                    key = self._key_of(meta["path"], prefix)
                    if key is not None and meta["last_modified"] <= last_second:
                        found.append(key)
                        if len(found) == batch:
                            yield found
                            found = []
        if found:
            yield found

    async def delete_unless_written_since(self, keys: Sequence[str], cutoff: datetime) -> list[str]:
        parsed = [BlobKey.parse(key) for key in keys]
        last_second = _last_second(cutoff)
        limit = asyncio.Semaphore(self._concurrency)

        async def collect(key: BlobKey) -> bool:
            async with limit:
                return await self._collect(key, last_second)

        with _translated():
            collected = await asyncio.gather(*(collect(key) for key in parsed))
        return [str(key) for key, done in zip(parsed, collected, strict=True) if done]

    async def check(self) -> None:
        """Lists the bucket (one object at most): raises BlobStoreUnreachable naming the bucket and what is
        wrong."""
        where = f"s3://{self._location.bucket}"
        try:
            await _next_page(obstore.list(self._store, self._location.prefix or None, chunk_size=1))
        except BlobStoreUnreachable as error:
            raise BlobStoreUnreachable(f"{where}: {error}") from None
        except Exception as error:  # noqa: BLE001 - obstore's errors carry the server's answer
            raise BlobStoreUnreachable(f"{where}: {_reason(error)}") from None

    async def close(self) -> None:
        if self._renames is not None:
            await self._renames.close()

    async def _collect(self, key: BlobKey, last_second: datetime) -> bool:
        path = self._path(key)
        if self._renames is not None:
            try:
                return await self._collect_by_moving_aside(self._renames, key, path, last_second)
            except Unsupported as answer:
                log.warning(
                    "blob collection: the S3 server does not offer RenameObject with conditions (%s); blobs are "
                    "deleted after reading their Last-Modified, so a put racing with a deletion can be lost",
                    answer,
                )
                self._renames = None
        elif not self._warned:
            self._warned = True
            log.warning(
                "blob collection: no S3 endpoint and access key to sign RenameObject with; blobs are deleted after"
                " reading their Last-Modified, so a put racing with a deletion can be lost"
            )
        try:
            meta = await obstore.head_async(self._store, path)
        except _MISSING:
            return False
        if meta["last_modified"] > last_second:
            return False
        await obstore.delete_async(self._store, path)
        return True

    async def _collect_by_moving_aside(
        self, renames: RenameClient, key: BlobKey, path: str, last_second: datetime
    ) -> bool:
        aside = self._location.object(f"{_COLLECTING}/{key.shard}/{str(key).replace('/', '-')}-{secrets.token_hex(8)}")
        if not await renames.rename(path, aside, unmodified_since=last_second):
            return False  # written since, or gone
        try:
            meta = await obstore.head_async(self._store, aside)
        except _MISSING:  # put back meanwhile by another collector's tidying
            return False
        if not self._renames_checked:
            await self._check_the_rename_happened(path, aside, meta["size"])
        if meta["last_modified"] <= last_second:
            await obstore.delete_async(self._store, aside)
            return True
        if not await renames.rename(aside, path):  # put again since it was listed: the same bytes go back
            with suppress(*_MISSING):
                await obstore.delete_async(self._store, aside)  # written again at the key meanwhile
        return False

    async def _check_the_rename_happened(self, path: str, aside: str, size: int) -> None:
        """A server that does not know RenameObject may take `PUT ...?renameObject` for a plain PUT of an empty
        object, answer 200 and leave the source in place: moving that empty object "back" would then overwrite a
        live blob. The first move of a process is checked once: an empty object aside while the source is still
        there is such a server (or, rarely, an empty blob put again in the same instant, which only costs the
        safer fallback)."""
        if size == 0:
            with suppress(*_MISSING):
                await obstore.head_async(self._store, path)
                with suppress(*_MISSING):
                    await obstore.delete_async(self._store, aside)
                raise Unsupported("a renamed object stayed where it was")
        self._renames_checked = True

    async def _tidy(self, shard: str) -> None:
        """A collector that died between moving a blob aside and deleting it left it there: it is put back for the
        next collection to judge again (should its collector still be running, that one finds it gone and deletes
        nothing); if the key was written again meanwhile, the copy aside is deleted."""
        if self._renames is None:
            return
        folder = self._location.object(f"{_COLLECTING}/{shard}")
        async for page in obstore.list(self._store, folder, chunk_size=_LIST_PAGE):
            for meta in page:
                name = meta["path"].rsplit("/", 1)[-1]
                original = name.rsplit("-", 1)[0].replace("-", "/")
                try:
                    target = self._path(BlobKey.parse(original))
                except InvalidInput:
                    continue
                if not await self._renames.rename(meta["path"], target):
                    with suppress(*_MISSING):
                        await obstore.delete_async(self._store, meta["path"])

    def _readable_path(self, tenant_id: UUID, key: str) -> str:
        parsed = BlobKey.parse(key)
        if not parsed.readable_by(tenant_id):
            raise NotFound(f"blob {key} not found")
        return self._path(parsed)

    def _path(self, key: BlobKey) -> str:
        return self._location.object(f"{key.shard}/{key}")

    def _key_of(self, path: str, shard: str) -> str | None:
        """The blob key of an object listed under the shard's prefix; None for an object that is none of ours."""
        relative = path[len(self._location.object(shard)) + 1 :]
        try:
            key = BlobKey.parse(relative)
        except InvalidInput:
            return None
        return str(key) if key.shard == shard else None


@contextmanager
def _translated(key: str | None = None) -> Iterator[None]:
    """obstore's errors as the port's: NotFound for a missing blob (when reading one), BlobStoreUnreachable with
    the server's reason for the rest (the message names the bucket's address, never a credential)."""
    try:
        yield
    except _MISSING:
        if key is None:
            raise BlobStoreUnreachable("the server answered 404: is the bucket there?") from None
        raise NotFound(f"blob {key} not found") from None
    except BaseError as error:
        raise BlobStoreUnreachable(_reason(error)) from None
    except Refused as error:  # RenameObject's own answer: its status and S3 code
        raise BlobStoreUnreachable(str(error)) from None
    except aiohttp.ClientError as error:
        raise BlobStoreUnreachable(f"RenameObject failed: {type(error).__name__}") from None


async def _next_page(pages: AsyncIterator[Sequence[Any]]) -> Sequence[Any]:
    with _translated():
        try:
            return await anext(pages)
        except StopAsyncIteration:
            return ()


def _last_second(cutoff: datetime) -> datetime:
    """The latest Last-Modified (whole seconds) of an object certainly written before `cutoff`: one stamped
    second s was written during s, so before s + 1."""
    return datetime.fromtimestamp(int(cutoff.timestamp()) - 1, UTC)


def _reason(error: Exception) -> str:
    text = str(error)
    for marker, reason in (
        ("SignatureDoesNotMatch", "the secret access key was refused (SignatureDoesNotMatch)"),
        ("InvalidAccessKeyId", "the access key id is unknown to the server (InvalidAccessKeyId)"),
        ("AccessDenied", "access to the bucket was denied (AccessDenied)"),
        ("NoSuchBucket", "the bucket does not exist (NoSuchBucket)"),
    ):
        if marker in text:
            return reason
    return f"{type(error).__name__}: {text.splitlines()[0] if text else 'no answer'}"[:300]
