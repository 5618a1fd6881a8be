"""What only the S3 blob store has: credentials, a bucket, a prefix, objects moved aside while being collected, and
the fallback for servers without RenameObject. On SeaweedFS (tests/s3_server.py)."""

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import obstore
import pytest

from adapters.blobs.s3 import BlobStoreUnreachable, S3BlobStore, S3Location
from adapters.blobs.s3_rename import RenameClient, Unsupported
from domain.errors import NotFound
from domain.ids import new_id
from tests.s3_server import S3Server, S3StoreOnServer, create_bucket, store_on

ACME, GLOBEX = new_id(), new_id()
DAY = timedelta(days=1)


@pytest.fixture
async def store(s3_server: S3Server) -> AsyncIterator[S3StoreOnServer]:
    s3 = await store_on(s3_server)
    yield s3
    await s3.close()


async def objects(store: S3StoreOnServer) -> list[str]:
    """Every object under the store's prefix, its path below it."""
    found = [meta["path"] async for page in obstore.list(store._store, store.prefix) for meta in page]
    return sorted(path.removeprefix(store.prefix + "/") for path in found)


async def test_a_wrong_secret_is_refused_with_a_clear_error(s3_server: S3Server, store: S3StoreOnServer) -> None:
    key = await store.put(ACME, b"private")
    wrong = S3StoreOnServer(s3_server, store.bucket, store.prefix, secret="not-the-secret")
    message = "the secret access key was refused"
    with pytest.raises(BlobStoreUnreachable, match=message):
        await wrong.get(ACME, key)
    with pytest.raises(BlobStoreUnreachable, match=message):
        await wrong.put(ACME, b"not stored")
    with pytest.raises(BlobStoreUnreachable, match=message):
        await wrong.check()
    assert "not-the-secret" not in repr(wrong)
    assert await objects(store) == [f"{key.split('/')[1][:2]}/{key}"]


async def test_an_unknown_access_key_is_refused(s3_server: S3Server) -> None:
    stranger = S3BlobStore(
        S3Location(await create_bucket(s3_server)),
        endpoint=s3_server.endpoint,
        access_key_id="nobody",
        secret_access_key=s3_server.secret_access_key,
    )
    with pytest.raises(BlobStoreUnreachable, match=r"access key id is unknown|access to the bucket was denied"):
        await stranger.check()


async def test_the_check_reports_a_missing_bucket_and_passes_an_existing_one(s3_server: S3Server) -> None:
    def on(bucket: str) -> S3BlobStore:
        return S3BlobStore(
            S3Location(bucket, "mail"),
            endpoint=s3_server.endpoint,
            access_key_id=s3_server.access_key_id,
            secret_access_key=s3_server.secret_access_key,
        )

    missing = f"mailroom-missing-{secrets.token_hex(4)}"
    with pytest.raises(BlobStoreUnreachable, match=f"s3://{missing}: the bucket does not exist"):
        await on(missing).check()
    await on(await create_bucket(s3_server)).check()


async def test_objects_cannot_be_read_without_signing(s3_server: S3Server, store: S3StoreOnServer) -> None:
    key = await store.put(ACME, b"mail is private")
    path = store._location.object(f"{key.split('/')[1][:2]}/{key}")
    async with httpx.AsyncClient() as anonymous:
        answer = await anonymous.get(f"{s3_server.endpoint}/{store.bucket}/{path}")
        listing = await anonymous.get(f"{s3_server.endpoint}/{store.bucket}?list-type=2")
    assert answer.status_code == 403
    assert listing.status_code == 403
    assert b"mail is private" not in answer.content


async def test_another_tenants_key_is_not_found_though_its_object_exists(store: S3StoreOnServer) -> None:
    key = await store.put(ACME, b"acme's message")
    with pytest.raises(NotFound):
        await store.get(GLOBEX, key)
    with pytest.raises(NotFound):
        await anext(store.stream(GLOBEX, key))
    with pytest.raises(NotFound):
        await store.get(GLOBEX, f"{GLOBEX.hex}/{key.split('/')[1]}")
    assert await store.get(ACME, key) == b"acme's message"


async def test_two_prefixes_of_one_bucket_do_not_see_each_other(s3_server: S3Server) -> None:
    """Two deployments (or a deployment and other data) sharing a bucket: neither lists, reads nor collects the
    other's objects, whatever they are named."""
    ours, theirs = await store_on(s3_server), await store_on(s3_server)
    assert ours.bucket == theirs.bucket
    kept = await theirs.put(ACME, b"theirs")
    ours.server.age(theirs.bucket, theirs.prefix, 2 * DAY)
    cutoff = datetime.now(UTC) - DAY

    assert [keys async for keys in ours.written_before(cutoff, None, 10)] == []
    assert await ours.delete_unless_written_since([kept], cutoff) == []
    with pytest.raises(NotFound):
        await ours.get(ACME, kept)
    assert await theirs.get(ACME, kept) == b"theirs"
    assert [keys async for keys in theirs.written_before(cutoff, None, 10)] == [[kept]]
    await ours.close()
    await theirs.close()


async def test_objects_under_a_shard_that_are_no_blobs_are_left_alone(store: S3StoreOnServer) -> None:
    key = await store.put(ACME, b"a blob")
    shard = key.split("/")[1][:2]
    await obstore.put_async(store._store, store._location.object(f"{shard}/README"), b"not a blob")
    await obstore.put_async(store._store, store._location.object(f"{shard}/{'0' * 64}"), b"another shard's name")
    store.age(None, 2 * DAY)

    listed = [keys async for keys in store.written_before(datetime.now(UTC) - DAY, shard, 10)]

    assert listed == [[key]]


async def test_a_put_that_lands_just_before_the_move_aside_keeps_the_blob(
    store: S3StoreOnServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server checked the write time, then the put landed, then the object was moved: the collector reads the
    write time again from the moved object, and moves it back."""
    key = await store.put(ACME, b"raced")
    store.age([key], 2 * DAY)
    rename = RenameClient.rename

    async def put_after_the_check(client: RenameClient, source: str, target: str, **conditions: Any) -> bool:
        if conditions.get("unmodified_since") is not None:
            await store.put(ACME, b"raced")  # what a sync of the same bytes does
            conditions = {}  # the condition held when it was checked
        return await rename(client, source, target, **conditions)

    monkeypatch.setattr(RenameClient, "rename", put_after_the_check)
    assert await store.delete_unless_written_since([key], datetime.now(UTC) - DAY) == []
    monkeypatch.undo()

    assert await store.get(ACME, key) == b"raced"
    assert await objects(store) == [f"{key.split('/')[1][:2]}/{key}"]


async def test_a_blob_left_aside_by_a_dead_collector_is_put_back(store: S3StoreOnServer) -> None:
    key = await store.put(ACME, b"moved aside when the collector died")
    shard = key.split("/")[1][:2]
    aside = f".collecting/{shard}/{key.replace('/', '-')}-0123456789abcdef"
    assert store._renames is not None
    assert await store._renames.rename(store._location.object(f"{shard}/{key}"), store._location.object(aside))
    assert await objects(store) == [aside]

    async for _ in store.written_before(datetime.now(UTC) - DAY, shard, 10):
        pass

    assert await objects(store) == [f"{shard}/{key}"]
    assert await store.get(ACME, key) == b"moved aside when the collector died"


async def test_without_rename_object_old_blobs_are_still_collected_and_fresh_ones_kept(
    store: S3StoreOnServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As on an AWS general purpose bucket: the write time is read, then the blob deleted, and a warning says
    that a put racing with it can be lost."""
    old, fresh = await store.put(ACME, b"old"), await store.put(ACME, b"fresh")
    store.age([old], 2 * DAY)

    async def unsupported(*_: object, **__: object) -> bool:
        raise Unsupported("501 NotImplemented")

    monkeypatch.setattr(RenameClient, "rename", unsupported)
    assert await store.delete_unless_written_since([old, fresh], datetime.now(UTC) - DAY) == [old]

    assert "a put racing with a deletion can be lost" in caplog.text
    with pytest.raises(NotFound):
        await store.get(ACME, old)
    assert await store.get(ACME, fresh) == b"fresh"


def test_blob_urls() -> None:
    assert S3Location.parse("s3://mail-blobs") == S3Location("mail-blobs", "")
    assert S3Location.parse("s3://mail-blobs/prod/eu/") == S3Location("mail-blobs", "prod/eu")
    for wrong in ("http://mail-blobs/x", "s3:///prefix", "s3://b/a//c", "s3://b/../c", "s3://b/x?acl", "/var/blobs"):
        with pytest.raises(ValueError, match=r"s3://|segments"):
            S3Location.parse(wrong)


async def test_a_server_that_takes_rename_object_for_a_plain_put_never_loses_a_blob(
    store: S3StoreOnServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that ignores the `renameObject` sub-resource writes an empty object at the target, answers 200 and
    keeps the source. The first move is checked: the store falls back to deleting by Last-Modified, the old blob is
    collected, the live one keeps its bytes, and the empty object is gone."""
    old, live = await store.put(ACME, b"old"), await store.put(ACME, b"live and well")
    store.age([old], 2 * DAY)

    async def plain_put(_: RenameClient, source: str, target: str, **__: object) -> bool:
        await obstore.put_async(store._store, target, b"")
        return True

    monkeypatch.setattr(RenameClient, "rename", plain_put)
    assert await store.delete_unless_written_since([old, live], datetime.now(UTC) - DAY) == [old]

    assert "does not offer RenameObject" in caplog.text
    assert await store.get(ACME, live) == b"live and well"
    assert await objects(store) == [f"{live.split('/')[1][:2]}/{live}"]
