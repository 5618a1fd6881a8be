"""Garbage collection of the blob store: raw messages and attachments no row names any more."""

from datetime import timedelta

from domain.blobs import SHARDS
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.storage import BlobStore

BATCH = 1_000
GRACE = timedelta(hours=24)
SLOT = timedelta(minutes=5)
"""The scheduler runs the collection every five minutes (entrypoints.worker.tasks); each run takes the shard of
its five-minute slot, so the 256 shards, and every blob, are looked at once every 21 h 20 min."""


class CollectBlobs:
    """Deletes the blobs that no message, draft attachment or queued message names: those of deleted mail,
    accounts, drafts and tenants, and of writes whose transaction never committed. Returns how many it deleted.

    A blob is written before the row that names it is committed, and bytes already stored are not written again
    but reused, so at the moment the collector asks "is this key named?" a blob may be about to be named by a
    transaction still open. The rule that keeps it: every writer puts the bytes (a put of stored bytes refreshes
    their write time, BlobStore.put) before it commits the row, and commits within `grace` of that put. Then:

    - `cutoff` is taken once, before any reference is read, and only blobs last written before it are deleted;
    - the write time is checked again at the moment of deleting, atomically with the deletion
      (BlobStore.delete_unless_written_since), so a put racing with the collection either refreshes the blob
      before it is judged, and it stays, or finds it gone and writes it again;
    - a blob that was last put before `cutoff` had its row committed before `cutoff + grace`, that is before the
      references were read: the reading sees the row, if it still exists;
    - the keys of a batch are looked up in every table by one statement (BlobReferences.named), so a key moving
      from one row to another (a message forwarded from, then deleted) is seen in one of them. A draft forwarding
      a message puts the message's bytes again for this reason, as its transaction outlives the read of the
      message.

    Blobs are looked at in streamed batches, one shard (1/256 of the store) a run, so a run's memory and time
    stay bounded for a store of millions of blobs. Must run where every tenant's rows are visible (the system
    scope); the SQL references refuse to answer otherwise.
    """

    def __init__(
        self, uow: UnitOfWork, blobs: BlobStore, clock: Clock, grace: timedelta = GRACE, batch: int = BATCH
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._clock = clock
        self._grace = grace
        self._batch = batch

    async def __call__(self, *, every_shard: bool = False) -> int:
        """The shard of the current slot, or the whole store with `every_shard` (operators, tests)."""
        now = self._clock.now()
        cutoff = now - self._grace
        shard = None if every_shard else SHARDS[int(now.timestamp() // SLOT.total_seconds()) % len(SHARDS)]
        deleted = 0
        async for keys in self._blobs.written_before(cutoff, shard, self._batch):
            async with self._uow as uow:
                named = await uow.blob_references.named(keys)
            unnamed = [key for key in keys if key not in named]
            if unnamed:
                deleted += len(await self._blobs.delete_unless_written_since(unnamed, cutoff))
        return deleted
