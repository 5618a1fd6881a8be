"""`uv run just bench-send`: N queued sends (10 KB each) through `mailroom worker` processes on Redis and
Postgres to a local SMTP sink (aiosmtpd, in this process): the time from enqueueing the first job to the sink
accepting the last message. Baseline in the same run: the same messages sent straight with aiosmtplib, on one
connection and on as many connections as a worker may open per login.

Needs Postgres (MAILROOM_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres; a throwaway
database is made on it) and Redis (MAILROOM_BENCH_REDIS_URL, default redis://127.0.0.1:6379/14, flushed)."""

import argparse
import asyncio
import os
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID, uuid4

import aiosmtplib
import asyncpg
from redis.asyncio import Redis

from adapters.blobs.local_folder import LocalFolderBlobStore
from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.jobs.queue import TaskiqJobQueue
from adapters.memory.runtime import RecordingJobQueue
from adapters.mime.composer import StdlibMessageComposer
from adapters.mime.sanitizer import Nh3HtmlSanitizer
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.migrations import upgrade
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.system_clock import SystemClock
from application.audit import Auditor
from application.compose.commands import ComposeRequest
from application.compose.content import DraftWriter
from application.compose.drafts import CreateDraft
from application.compose.send import QueueSend
from application.compose.settings import OutboxSettings
from application.jobs import SEND_TASK
from application.messages.read import ShowHtml
from bench.send_sink import Sink, start_sink
from domain.accounts import MailAccount, Security, ServerSettings, secret_binding
from domain.audit import RequestOrigin
from domain.auth import Principal
from domain.ids import new_id
from domain.messages import Address
from domain.tenants import Role, Tenant
from entrypoints.settings import load_settings
from entrypoints.worker.runtime import create_broker

PER_LOGIN = 4


def words(size: int) -> str:
    rng = random.Random(size)
    text: list[str] = []
    while sum(len(w) + 1 for w in text) < size:
        text.append("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 10))))
    lines = [" ".join(text[i : i + 12]) for i in range(0, len(text), 12)]
    return "\n".join(lines)[:size]


async def admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


class Bench:
    def __init__(self, environ: dict[str, str], sink_port: int, size: int) -> None:
        self.settings = load_settings(environ)
        self.engine = create_engine(self.settings.database_url)
        self.factory = create_session_factory(self.engine)
        self.blobs = LocalFolderBlobStore(Path(self.settings.data_dir) / "blobs")
        self.clock = SystemClock()
        self.sink_port = sink_port
        self.text = words(size)
        self.principal: Principal | None = None
        self.account_id: UUID | None = None

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.factory)

    async def setup(self) -> None:
        await upgrade(self.engine)
        tenant = Tenant(new_id(), "bench", "Bench")
        cipher, account_id = AesGcmCredentialCipher(self.settings.keyring()), new_id()
        imap_secret, smtp_secret = (
            cipher.encrypt("sink-password", secret_binding(account_id, field))
            for field in ("imap_password", "smtp_password")
        )
        now = self.clock.now()
        server = ServerSettings("127.0.0.1", self.sink_port, Security.NONE, "bench")
        account = MailAccount(
            account_id, tenant.id, "Bench", "bench@example.test", server, server, imap_secret, smtp_secret, now, now,
            server_saves_sent=True,
        )  # fmt: skip
        async with self.uow() as uow:
            await uow.tenants.add(tenant)
            await uow.accounts.add(account)
            await uow.commit()
        self.principal = Principal(user_id=new_id(), tenant_id=tenant.id, role=Role.MEMBER)
        self.account_id = account.id

    async def queued_drafts(self, count: int) -> list[tuple[str, dict[str, str]]]:
        """Drafts built and committed as queued, their jobs held back: the timed part starts at the enqueue."""
        assert self.principal is not None
        writer = DraftWriter(self.blobs, 25 * 1024 * 1024)
        create = CreateDraft(self.uow(), writer, self.clock, ShowHtml(Nh3HtmlSanitizer()))
        held = RecordingJobQueue()
        auditor = Auditor(RequestOrigin("bench"), self.clock)
        queue = QueueSend(self.uow(), self.blobs, StdlibMessageComposer(), held, self.clock, OutboxSettings(), auditor)
        for index in range(count):
            request = ComposeRequest(
                account_id=self.account_id,
                to=(Address("Sink", f"rcpt{index % 50}@example.test"),),
                subject=f"Benchmark message {index}",
                text=self.text,
            )
            draft = (await create(self.principal, request)).draft
            await queue(self.principal, draft.id)
        return [(job_id, arguments) for job_id, _, arguments in held.jobs]


async def wait_for(sink: Sink, total: int, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while len(sink.accepted_at) < total:
        if time.perf_counter() > deadline:
            raise SystemExit(f"the sink got {len(sink.accepted_at)} of {total} messages in {seconds} s")
        await asyncio.sleep(0.005)


async def raw_rate(port: int, messages: list[bytes], sink: Sink, connections: int) -> float:
    """The transport alone: aiosmtplib on `connections` connections, no database, no queue."""

    async def one(share: list[bytes]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
        await client.connect()
        await client.login("bench", "sink-password")
        for message in share:
            await client.sendmail("bench@example.test", ["rcpt@example.test"], message)
        await client.quit()

    before = len(sink.accepted_at)
    started = time.perf_counter()
    await asyncio.gather(*(one(messages[i::connections]) for i in range(connections)))
    assert len(sink.accepted_at) - before == len(messages)
    return len(messages) / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> None:
    admin_url = os.environ.get("MAILROOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("MAILROOM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    name = f"mailroom_bench_{uuid4().hex[:8]}"
    await admin(admin_url, f'CREATE DATABASE "{name}"')
    database_url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    sink, controller, port = start_sink()
    workers: list[asyncio.subprocess.Process] = []
    with tempfile.TemporaryDirectory() as data_dir:
        environ = {
            "MAILROOM_DATA_DIR": data_dir,
            "MAILROOM_DATABASE_URL": database_url,
            "MAILROOM_REDIS_URL": redis_url,
            "MAILROOM_ALLOW_PRIVATE_MAIL_HOSTS": "true",
            "MAILROOM_IDLE_ENABLED": "false",
            "MAILROOM_LOG_LEVEL": "WARNING",
            "MAILROOM_SMTP_CONNECTIONS_PER_LOGIN": str(PER_LOGIN),
        }
        bench = Bench(environ, port, args.size)
        broker = create_broker(bench.settings)
        try:
            await bench.setup()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")} | environ
            for _ in range(args.workers):
                command = [str(Path(sys.executable).with_name("mailroom")), "worker"]
                if args.profile:
                    command = [sys.executable, "-m", "cProfile", "-o", f"{args.profile}.{len(workers)}", *command]
                workers.append(await asyncio.create_subprocess_exec(*command, env=env))
            await broker.startup()
            jobs = TaskiqJobQueue(broker)
            for job_id, arguments in await bench.queued_drafts(args.workers * PER_LOGIN):  # warm every worker up
                await jobs.enqueue(SEND_TASK, job_id, **arguments)
            await wait_for(sink, args.workers * PER_LOGIN, 60)

            rates, queue_ms = [], []
            for number in range(1, args.runs + 1):
                started = time.perf_counter()
                held = await bench.queued_drafts(args.messages)
                queue_ms.append((time.perf_counter() - started) * 1000 / args.messages)
                before = len(sink.accepted_at)
                started = time.perf_counter()
                for job_id, arguments in held:
                    await jobs.enqueue(SEND_TASK, job_id, **arguments)
                enqueued = time.perf_counter() - started
                await wait_for(sink, before + args.messages, 300)
                elapsed = sink.accepted_at[-1] - started
                rates.append(args.messages / elapsed)
                print(
                    f"run {number}: {args.messages} sends in {elapsed:.2f} s = {rates[-1]:.0f} msg/s "
                    f"(enqueueing took {enqueued:.2f} s; message {statistics.median(sink.sizes[-args.messages :])} B)"
                )
            sample = words(args.size).encode()
            raw = [b"Subject: raw\r\n\r\n" + sample.replace(b"\n", b"\r\n") for _ in range(args.messages)]
            one = await raw_rate(port, raw, sink, 1)
            many = await raw_rate(port, raw, sink, args.workers * PER_LOGIN)
        finally:
            for worker in workers:
                worker.terminate()
            await asyncio.gather(*(w.wait() for w in workers))
            await broker.shutdown()
            controller.stop()
            await bench.engine.dispose()
            await redis.flushdb()
            await redis.aclose()
            await admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    median = statistics.median(rates)
    print(f"mailroom, {args.workers} worker process(es): median {median:.0f} msg/s over {args.runs} runs")
    queueing = statistics.median(queue_ms)
    print(f"  creating and queueing a draft in this process (MIME, blobs, commits): median {queueing:.2f} ms a message")
    print(f"raw aiosmtplib, 1 connection:          {one:.0f} msg/s")
    print(f"raw aiosmtplib, {args.workers * PER_LOGIN} connections:         {many:.0f} msg/s")
    print(f"  ratio mailroom / raw ({args.workers * PER_LOGIN} connections): {median / many:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=10 * 1024, help="bytes of text in each message")
    parser.add_argument("--workers", type=int, default=1, help="`mailroom worker` processes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", help="write each worker's cProfile statistics to PROFILE.<n>")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
