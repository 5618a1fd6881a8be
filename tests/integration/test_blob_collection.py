"""Blob garbage collection (application.blobs.collect): on the in-memory fakes, on SQLite with the blob folder and
with the S3 store (on SeaweedFS), and on Postgres with the blob folder through the service's own role (row-level
security applies), run as the scheduled job runs it, in the system scope."""

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import pytest

from adapters.blobs.local_folder import LocalFolderBlobStore
from adapters.memory.blobs import MemoryBlobStore
from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.system_clock import SystemClock
from application.blobs.collect import CollectBlobs
from domain.drafts import Draft, DraftAttachment, DraftContent, Outgoing
from domain.errors import NotFound
from domain.ids import new_id
from domain.mailboxes import Mailbox, MailboxRole, SyncState
from domain.messages import Address, Message
from domain.ports.persistence import UnitOfWork
from domain.ports.storage import BlobStore
from domain.tenants import Tenant
from tests.integration.conftest import migrated_engine
from tests.integration.test_mail_store_contract import message
from tests.integration.test_persistence_contract import account, store, tenant
from tests.s3_server import S3StoreOnServer, store_on

GRACE = timedelta(hours=24)
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
Factory = Callable[[], UnitOfWork]
scope = RowLevelTenantScope()


@dataclass
class Rig:
    make_uow: Factory
    blobs: BlobStore
    folder: Path | None = None

    def age_everything(self) -> None:
        """Every blob stored so far as if last written two days ago."""
        past = datetime.now(UTC) - 2 * GRACE
        if isinstance(self.blobs, S3StoreOnServer):
            self.blobs.age(None, 2 * GRACE)
            return
        if isinstance(self.blobs, MemoryBlobStore):
            self.blobs.written = dict.fromkeys(self.blobs.written, past)
            return
        assert self.folder is not None
        for path in self.folder.rglob("*"):
            if path.is_file():
                os.utime(path, (past.timestamp(), past.timestamp()))

    async def collect(self, make_uow: Callable[[], Any] | None = None, batch: int = 1_000) -> int:
        uow = (make_uow or self.make_uow)()
        with scope.system():
            return await CollectBlobs(uow, self.blobs, SystemClock(), GRACE, batch)(every_shard=True)

    async def exists(self, tenant_id: UUID, key: str) -> bool:
        try:
            await self.blobs.get(tenant_id, key)
        except NotFound:
            return False
        return True


class SystemUnitOfWork(SqlUnitOfWork):
    """The tests' own rows, of several tenants, written as the service's role may: in the system scope."""

    async def __aenter__(self) -> Self:
        with scope.system():
            return await super().__aenter__()


@pytest.fixture(params=["memory", "sqlite", "sqlite+s3", "postgres"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    if request.param == "memory":
        fake = MemoryUnitOfWork()
        yield Rig(lambda: MemoryUnitOfWork(fake.store), MemoryBlobStore())
        return
    database = request.param.removesuffix("+s3")
    async with migrated_engine(database, request, tmp_path) as owner:
        engine = create_engine(request.getfixturevalue("app_role_url")) if database == "postgres" else owner
        factory = create_session_factory(engine)
        folder = tmp_path / "blobs"
        if request.param.endswith("+s3"):
            s3 = await store_on(request.getfixturevalue("s3_server"))
            yield Rig(lambda: SystemUnitOfWork(factory), s3)
            await s3.close()
        else:
            yield Rig(lambda: SystemUnitOfWork(factory), LocalFolderBlobStore(folder), folder)
        if engine is not owner:
            await engine.dispose()


async def inbox(rig: Rig, owner: Tenant) -> Mailbox:
    mail_account = account(owner, email=f"{new_id().hex[-12:]}@example.com")
    await store(rig.make_uow, mail_account)
    box = Mailbox(new_id(), owner.id, mail_account.id, "INBOX", "/", MailboxRole.INBOX, SyncState(7, 0, None))
    async with rig.make_uow() as uow:
        await uow.mailboxes.add(box)
        await uow.commit()
    return box


async def synced(rig: Rig, box: Mailbox, uid: int, raw: bytes) -> Message:
    stored = replace(message(box, uid), raw_blob_key=await rig.blobs.put(box.tenant_id, raw))
    async with rig.make_uow() as uow:
        await uow.message_store.add_many([stored])
        await uow.commit()
    return stored


async def queued_draft(rig: Rig, box: Mailbox, name: str) -> Draft:
    attachment = await rig.blobs.put(box.tenant_id, f"attachment of {name}".encode())
    content = DraftContent(
        sender=Address("", "alice@example.com"),
        to=(Address("", "bob@example.com"),),
        subject=name,
        attachments=(DraftAttachment(new_id(), "a.txt", "text/plain", 10, attachment),),
    )
    draft = Draft(new_id(), box.tenant_id, box.account_id, content, NOW, NOW)
    built = await rig.blobs.put(box.tenant_id, f"the message built from {name}".encode())
    draft.queue(Outgoing(f"<{name}@example.com>", NOW, built, 30), f"job-{name}", NOW, None, None)
    async with rig.make_uow() as uow:
        await uow.drafts.add(draft)
        await uow.commit()
    return draft


def raw_key(stored: Message) -> str:
    assert stored.raw_blob_key is not None
    return stored.raw_blob_key


def draft_keys(draft: Draft) -> list[str]:
    assert draft.outgoing is not None
    return [draft.outgoing.blob_key, *(a.blob_key for a in draft.content.attachments)]


async def test_the_blob_of_a_deleted_message_is_collected_and_a_named_one_kept(rig: Rig) -> None:
    box = await inbox(rig, await tenant(rig.make_uow))
    deleted, kept = await synced(rig, box, 1, b"Subject: deleted\r\n\r\nx"), await synced(rig, box, 2, b"kept")
    async with rig.make_uow() as uow:
        await uow.message_store.remove(box.tenant_id, deleted.id)
        await uow.commit()
    rig.age_everything()

    assert await rig.collect() == 1

    assert not await rig.exists(box.tenant_id, raw_key(deleted))
    assert await rig.exists(box.tenant_id, raw_key(kept))


async def test_the_blobs_of_a_deleted_draft_are_collected(rig: Rig) -> None:
    box = await inbox(rig, await tenant(rig.make_uow))
    deleted, kept = await queued_draft(rig, box, "deleted"), await queued_draft(rig, box, "kept")
    async with rig.make_uow() as uow:
        assert await uow.drafts.delete(box.tenant_id, deleted.id)
        await uow.commit()
    rig.age_everything()

    assert await rig.collect() == 2

    assert [await rig.exists(box.tenant_id, key) for key in draft_keys(deleted)] == [False, False]
    assert [await rig.exists(box.tenant_id, key) for key in draft_keys(kept)] == [True, True]


async def test_the_blobs_of_a_deleted_account_are_collected(rig: Rig) -> None:
    owner = await tenant(rig.make_uow)
    gone, other = await inbox(rig, owner), await inbox(rig, owner)
    gone_mail = await synced(rig, gone, 1, b"mail of the deleted account")
    gone_draft = await queued_draft(rig, gone, "gone")
    other_mail = await synced(rig, other, 1, b"mail of the other account")
    async with rig.make_uow() as uow:
        assert await uow.accounts.delete(owner.id, gone.account_id)
        await uow.commit()
    rig.age_everything()

    assert await rig.collect() == 3

    for key in (raw_key(gone_mail), *draft_keys(gone_draft)):
        assert not await rig.exists(owner.id, key)
    assert await rig.exists(owner.id, raw_key(other_mail))


async def test_one_tenants_deleted_copy_leaves_another_tenants_copy_of_the_same_bytes(rig: Rig) -> None:
    raw = b"Subject: the same message\r\n\r\nsent to both"
    acme, globex = await inbox(rig, await tenant(rig.make_uow)), await inbox(rig, await tenant(rig.make_uow, "globex"))
    in_acme, in_globex = await synced(rig, acme, 1, raw), await synced(rig, globex, 1, raw)
    assert in_acme.raw_blob_key != in_globex.raw_blob_key
    async with rig.make_uow() as uow:
        await uow.message_store.remove(acme.tenant_id, in_acme.id)
        await uow.commit()
    rig.age_everything()

    assert await rig.collect() == 1

    assert not await rig.exists(acme.tenant_id, raw_key(in_acme))
    assert await rig.blobs.get(globex.tenant_id, raw_key(in_globex)) == raw


class WriterDuringLookup:
    """A unit of work whose reference lookup first lets a concurrent writer run: the moment the collector has
    listed its old blobs and not yet decided which to delete."""

    def __init__(self, uow: UnitOfWork, writer: Callable[[], Awaitable[None]]) -> None:
        self._uow, self._writer = uow, writer

    async def __aenter__(self) -> Self:
        await self._uow.__aenter__()
        self.blob_references = self
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._uow.__aexit__(exc_type, exc, tb)

    async def named(self, keys: Sequence[str]) -> set[str]:
        await self._writer()
        return await self._uow.blob_references.named(keys)


async def test_blobs_written_or_put_again_during_a_collection_survive_it(rig: Rig) -> None:
    """A sync puts a message's bytes, which another message of the tenant held until it was deleted, plus new
    bytes, while a collection runs; its transaction commits after the collection has read the references."""
    box = await inbox(rig, await tenant(rig.make_uow))
    raw = b"Subject: deleted here, synced again elsewhere\r\n\r\nx"
    deleted = await synced(rig, box, 1, raw)
    async with rig.make_uow() as uow:
        await uow.message_store.remove(box.tenant_id, deleted.id)
        await uow.commit()
    rig.age_everything()
    written: list[str] = []

    async def sync_meanwhile() -> None:
        if not written:
            written.extend(await rig.blobs.put_many(box.tenant_id, [raw, b"new bytes, not yet named"]))

    assert await rig.collect(lambda: WriterDuringLookup(rig.make_uow(), sync_meanwhile), batch=1) == 0

    assert written[0] == deleted.raw_blob_key
    for key in written:
        assert await rig.exists(box.tenant_id, key)


async def test_a_blob_put_again_after_the_collector_listed_it_is_not_deleted(rig: Rig) -> None:
    """The store's own check: the write time is read again when deleting."""
    owner = await tenant(rig.make_uow)
    key = await rig.blobs.put(owner.id, b"orphan")
    rig.age_everything()
    cutoff = datetime.now(UTC) - GRACE
    [listed] = [keys async for keys in rig.blobs.written_before(cutoff, None, 10)]
    assert listed == [key]

    await rig.blobs.put(owner.id, b"orphan")

    assert await rig.blobs.delete_unless_written_since(listed, cutoff) == []
    assert await rig.exists(owner.id, key)


async def test_the_sql_references_refuse_to_answer_outside_the_system_scope(
    request: pytest.FixtureRequest, tmp_path: Path, app_role_url: str
) -> None:
    """Under row-level security, a session scoped to no tenant sees no rows: every blob would look unnamed."""
    async with migrated_engine("postgres", request, tmp_path):
        engine = create_engine(app_role_url)
        blobs = LocalFolderBlobStore(tmp_path / "blobs")
        key = await blobs.put(new_id(), b"named by a row the unscoped session cannot see")
        os.utime(next(p for p in (tmp_path / "blobs").rglob("*") if p.is_file()), (0, 0))
        try:
            with pytest.raises(RuntimeError, match=r"system scope \(TenantScope\.system\(\)\)"):
                await CollectBlobs(SqlUnitOfWork(create_session_factory(engine)), blobs, SystemClock(), GRACE)(
                    every_shard=True
                )
        finally:
            await engine.dispose()
        assert await blobs.get(UUID(key.split("/")[0]), key)
