"""The blob store contract, on the local folder adapter and the in-memory fake."""

from pathlib import Path

import pytest

from adapters.blobs.local_folder import LocalFolderBlobStore
from adapters.memory.blobs import MemoryBlobStore
from domain.errors import InvalidInput, NotFound
from domain.ports.storage import BlobStore


@pytest.fixture(params=["folder", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return LocalFolderBlobStore(tmp_path) if request.param == "folder" else MemoryBlobStore()


async def test_same_bytes_same_key_and_read_back(store: BlobStore) -> None:
    raw = b"From: a@example.com\r\n\r\nhello"
    key = await store.put(raw)
    assert key == await store.put(raw)
    assert len(key) == 64
    assert await store.get(key) == raw


async def test_a_batch_is_stored_with_keys_in_order(store: BlobStore) -> None:
    blobs = [b"first", b"second", b"first", b"third" * 1000]
    keys = await store.put_many(blobs)
    assert keys[0] == keys[2] != keys[1]
    assert [await store.get(key) for key in keys] == blobs


async def test_streams_in_chunks(store: BlobStore) -> None:
    raw = bytes(range(256)) * 1000
    key = await store.put(raw)
    chunks = [chunk async for chunk in store.stream(key, chunk_size=10_000)]
    assert b"".join(chunks) == raw
    assert max(len(c) for c in chunks) == 10_000


async def test_deleted_and_unknown_blobs_are_not_found(store: BlobStore) -> None:
    key = await store.put(b"x")
    await store.delete(key)
    await store.delete(key)
    with pytest.raises(NotFound):
        await store.get(key)
    with pytest.raises(NotFound):
        await anext(store.stream("0" * 64))


async def test_keys_cannot_walk_out_of_the_folder(tmp_path: Path) -> None:
    store = LocalFolderBlobStore(tmp_path / "blobs")
    (tmp_path / "secret").write_bytes(b"do not read")
    for key in ("../secret", "../../etc/passwd", "A" * 64, ""):
        with pytest.raises(InvalidInput):
            await store.get(key)


async def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    store = LocalFolderBlobStore(tmp_path)
    await store.put(b"one")
    await store.put(b"one")
    assert leftovers(tmp_path) == []


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".incoming-*")]
