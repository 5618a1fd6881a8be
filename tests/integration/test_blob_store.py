"""The blob store contract, on the local folder adapter, the S3 adapter (on SeaweedFS) and the in-memory fake."""

import hashlib
import os
import stat
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.blobs.local_folder import LocalFolderBlobStore
from adapters.memory.blobs import MemoryBlobStore
from domain.errors import InvalidInput, NotFound
from domain.ids import new_id
from domain.ports.storage import BlobStore
from tests.s3_server import S3Server, S3StoreOnServer, store_on

ACME, GLOBEX = new_id(), new_id()
DAY = timedelta(days=1)


@pytest.fixture(params=["folder", "s3", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        s3 = await store_on(server)
        yield s3
        await s3.close()
        return
    yield LocalFolderBlobStore(tmp_path) if request.param == "folder" else MemoryBlobStore()


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    yield
    os.umask(previous)


async def test_same_bytes_same_key_and_read_back(store: BlobStore) -> None:
    raw = b"From: a@example.com\r\n\r\nhello"
    key = await store.put(ACME, raw)
    assert key == await store.put(ACME, raw)
    assert key == f"{ACME.hex}/{hashlib.sha256(raw).hexdigest()}"
    assert await store.get(ACME, key) == raw


async def test_a_batch_is_stored_with_keys_in_order(store: BlobStore) -> None:
    blobs = [b"first", b"second", b"first", b"third" * 1000]
    keys = await store.put_many(ACME, blobs)
    assert keys[0] == keys[2] != keys[1]
    assert [await store.get(ACME, key) for key in keys] == blobs


async def test_streams_in_chunks(store: BlobStore) -> None:
    raw = bytes(range(256)) * 1000
    key = await store.put(ACME, raw)
    chunks = [chunk async for chunk in store.stream(ACME, key, chunk_size=10_000)]
    assert b"".join(chunks) == raw
    assert max(len(c) for c in chunks) == 10_000


async def test_deleted_and_unknown_blobs_are_not_found(store: BlobStore) -> None:
    key = await store.put(ACME, b"x")
    await store.delete(key)
    await store.delete(key)
    with pytest.raises(NotFound):
        await store.get(ACME, key)
    with pytest.raises(NotFound):
        await anext(store.stream(ACME, f"{ACME.hex}/{'0' * 64}"))


async def test_two_tenants_equal_bytes_are_two_blobs(store: BlobStore) -> None:
    """Shared, the second write would return at once (the bytes exist) and tell that tenant the first holds them;
    and neither could delete its copy."""
    raw = b"Subject: the same newsletter\r\n\r\nto both"
    acme_key, globex_key = await store.put(ACME, raw), await store.put(GLOBEX, raw)
    assert acme_key != globex_key
    with pytest.raises(NotFound):
        await store.get(GLOBEX, acme_key)
    with pytest.raises(NotFound):
        await anext(store.stream(ACME, globex_key))

    await store.delete(acme_key)

    with pytest.raises(NotFound):
        await store.get(ACME, acme_key)
    assert await store.get(GLOBEX, globex_key) == raw


async def test_keys_stored_before_keys_named_their_tenant_stay_readable(tmp_path: Path) -> None:
    raw = b"synced by an earlier version"
    digest = legacy_folder(tmp_path, raw, 0o700)
    store = LocalFolderBlobStore(tmp_path)
    assert await store.get(ACME, digest) == raw
    assert b"".join([chunk async for chunk in store.stream(ACME, digest)]) == raw


async def test_keys_cannot_walk_out_of_the_folder(tmp_path: Path) -> None:
    store = LocalFolderBlobStore(tmp_path / "blobs")
    (tmp_path / "secret").write_bytes(b"do not read")
    for key in ("../secret", "../../etc/passwd", "A" * 64, "", f"{ACME.hex}/../{'0' * 61}", f"../{'0' * 64}"):
        with pytest.raises(InvalidInput):
            await store.get(ACME, key)


@pytest.mark.usefixtures("permissive_umask")
async def test_files_are_0600_and_folders_0700_whatever_the_umask(tmp_path: Path) -> None:
    root = tmp_path / "data" / "blobs"
    store = LocalFolderBlobStore(root)
    await store.put_many(ACME, [b"one", b"two"])
    await store.put(GLOBEX, b"three")

    files = [p for p in root.rglob("*") if p.is_file()]
    folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
    assert len(files) == 3
    assert len(folders) >= 5  # the root, two tenants' folders, a shard folder at least in each
    assert {mode(p) for p in files} == {0o600}
    assert {mode(p) for p in folders} == {0o700}


@pytest.mark.usefixtures("permissive_umask")
async def test_a_root_folder_an_earlier_version_left_open_is_closed(tmp_path: Path) -> None:
    """Blobs written world-readable before are behind a folder nobody else may enter."""
    legacy_folder(tmp_path, b"old", 0o755)
    await LocalFolderBlobStore(tmp_path).put(ACME, b"new")
    assert mode(tmp_path) == 0o700


async def test_putting_stored_bytes_again_counts_as_writing_them_now(store: BlobStore) -> None:
    key = await store.put(ACME, b"kept by a second writer")
    age(store, key, 2 * DAY)
    cutoff = datetime.now(UTC) - DAY
    assert [keys async for keys in store.written_before(cutoff, None, 10)] == [[key]]

    await store.put(ACME, b"kept by a second writer")

    assert [keys async for keys in store.written_before(cutoff, None, 10)] == []
    assert await store.delete_unless_written_since([key], cutoff) == []
    assert await store.get(ACME, key) == b"kept by a second writer"


async def test_old_blobs_are_listed_by_shard_in_batches_and_deleted(store: BlobStore) -> None:
    keys = await store.put_many(ACME, [f"blob {n}".encode() for n in range(40)])
    fresh = await store.put(GLOBEX, b"written just now")
    age(store, keys, 2 * DAY)
    cutoff = datetime.now(UTC) - DAY

    batches = [batch async for batch in store.written_before(cutoff, None, 7)]
    shard = keys[0].split("/")[1][:2]
    in_shard = [batch async for batch in store.written_before(cutoff, shard, 7)]

    assert max(len(b) for b in batches) == 7
    assert sorted(k for b in batches for k in b) == sorted(keys)
    assert sorted(k for b in in_shard for k in b) == sorted(k for k in keys if k.split("/")[1].startswith(shard))
    assert sorted(await store.delete_unless_written_since([*keys, fresh], cutoff)) == sorted(keys)
    assert await store.get(GLOBEX, fresh) == b"written just now"


async def test_a_put_between_the_last_check_and_the_deletion_keeps_the_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The put lands after the collector read the old write time and before it took the file: the collector
    renames the file aside, reads the write time again from the renamed file, and puts it back."""
    store = LocalFolderBlobStore(tmp_path)
    key = await store.put(ACME, b"raced")
    age(store, key, 2 * DAY)
    rename = os.rename

    def put_just_before(source: str | Path, target: str | Path) -> None:
        os.utime(source)  # what a put of the same bytes does
        rename(source, target)

    monkeypatch.setattr(os, "rename", put_just_before)
    assert await store.delete_unless_written_since([key], datetime.now(UTC) - DAY) == []
    monkeypatch.undo()
    assert await store.get(ACME, key) == b"raced"
    assert files(tmp_path) == [key.split("/")[1]]


async def test_leftovers_of_cut_writes_and_collections_are_tidied(tmp_path: Path) -> None:
    store = LocalFolderBlobStore(tmp_path)
    key = await store.put(ACME, b"renamed aside when the collector died")
    path = blob_path(tmp_path, key)
    aside = path.with_name(f".collecting-{path.name}-1-2")
    path.rename(aside)
    half_written = path.with_name(f".incoming-{'0' * 64}-1-2")
    half_written.write_bytes(b"half")
    for leftover in (aside, half_written):
        os.utime(leftover, (0, 0))

    async for _ in store.written_before(datetime.now(UTC) - DAY, None, 10):
        pass

    assert files(tmp_path) == [key.split("/")[1]]
    assert await store.get(ACME, key) == b"renamed aside when the collector died"


async def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    store = LocalFolderBlobStore(tmp_path)
    await store.put(ACME, b"one")
    await store.put(ACME, b"one")
    assert leftovers(tmp_path) == []


def age(store: BlobStore, keys: str | Iterable[str], by: timedelta) -> None:
    then = datetime.now(UTC) - by
    keys = [keys] if isinstance(keys, str) else list(keys)
    if isinstance(store, S3StoreOnServer):
        store.age(keys, by)
        return
    for key in keys:
        if isinstance(store, MemoryBlobStore):
            store.written[key] = then
            continue
        assert isinstance(store, LocalFolderBlobStore)
        os.utime(blob_path(store._root, key), (then.timestamp(), then.timestamp()))


def blob_path(root: Path, key: str) -> Path:
    tenant, digest = key.split("/")
    return root / tenant / digest[:2] / digest


def legacy_folder(root: Path, raw: bytes, folder_mode: int) -> str:
    """A blob as versions before tenant keys stored it, at `root/ab/abcd...`; its key."""
    root.chmod(folder_mode)
    digest = hashlib.sha256(raw).hexdigest()
    (root / digest[:2]).mkdir(mode=folder_mode)
    (root / digest[:2] / digest).write_bytes(raw)
    return digest


def files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".incoming-*")]
