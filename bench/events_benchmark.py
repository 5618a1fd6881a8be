"""`uv run just bench-events`: events out of Mailroom in the production shape (`mailroom serve`, one `mailroom
worker` and `mailroom scheduler`, on Postgres as the service's own role and on Redis) to a webhook receiver
(aiohttp) in this process.

1. Latency: messages sent by SMTP through the local Postfix to the Dovecot user `bench`, one every 0.2 s, each
   with a subject of its own; from SMTP acceptance (smtplib's `send_message` returning) to the receiver holding
   the message's `message.created`: p50, p95 and max. Target: p95 <= 2 s with the default settings.
2. Throughput: N `message.created` events committed straight into the tenant's change log, 1,000 a transaction,
   through SqlUnitOfWork with the Redis doorbell (the service's own path: each commit rings, and the scheduler
   queues a dispatch); from the first commit to the receiver holding every webhook-id: events/s. Target: 1,000/s
   with one worker.
3. Baseline in the same run, interleaved with 2: the same number of bodies of the same size posted to the same
   receiver by a plain aiohttp ClientSession in another process (as the worker is), as many at once as the
   dispatcher may send to one endpoint (EventSettings.per_endpoint); unsigned, no database.

Needs the local mail servers (`uv run just services`, as root), Postgres (MAILROOM_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres; a throwaway database and service role are made on it) and Redis
(MAILROOM_BENCH_REDIS_URL, default redis://127.0.0.1:6379/14; the keys this run made, and a stale task stream,
are deleted). `--profile FILE` runs the worker under cProfile; `--logs DIR` keeps the processes' logs."""

import argparse
import asyncio
import imaplib
import json
import os
import secrets
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import aiohttp
import asyncpg
import msgspec
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.engine import URL, make_url

from adapters.mime.parser import PREVIEW_CHARS
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.signals.redis import RedisDoorbell
from application.events.settings import EventSettings
from bench.sync_benchmark import admin, mail_env
from domain.changes import Change, LoggedChange, change_document, message_created
from domain.ids import new_id
from domain.messages import Address, Flags, MessageSummary

MAILROOM = str(Path(sys.executable).with_name("mailroom"))
ROOT = Path(__file__).resolve().parents[1]
TENANT, LOGIN, PASSWORD = "bench-events", "ops@bench-events.test", "bench-events-password-1"
MAIL_USER = "bench"
BATCH = 1000
PER_ENDPOINT = EventSettings().per_endpoint
STREAM = b"mailroom"
PREVIEW = (
    "Hello, the figures for the third quarter are attached; could you look at the totals before Thursday's "
    "meeting? The numbers for the north region still look low to me, and I would rather we caught it now than "
    "in front of the board."
)
RAW_CHILD = "import sys; from bench.events_benchmark import post_raw; post_raw(sys.argv[1:])"


@dataclass
class Receiver:
    """Answers 200 at once and notes when each webhook-id first arrived (and, while `read_subjects`, each
    message's subject and its event's `created_at`). `expect` names what a measurement waits for."""

    base: str = ""
    read_subjects: bool = False
    first: dict[str, float] = field(default_factory=dict)
    subjects: dict[str, float] = field(default_factory=dict)
    created: dict[str, float] = field(default_factory=dict)
    posts: int = 0
    repeats: int = 0
    peers: set[Any] = field(default_factory=set)
    finished_at: float = 0.0
    _waiting: set[str] = field(default_factory=set)
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        self.posts += 1
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        event_id = request.headers.get("webhook-id", "")
        if event_id in self.first:
            self.repeats += 1
        else:
            self.first[event_id] = now
        self._arrived(event_id, now)
        if self.read_subjects:
            event = json.loads(body)
            subject = (event.get("data", {}).get("message") or {}).get("subject")
            if subject and subject not in self.subjects:
                self.subjects[subject] = now
                self.created[subject] = datetime.fromisoformat(event["created_at"]).timestamp()
                self._arrived(subject, now)
        return web.Response()

    def _arrived(self, key: str, now: float) -> None:
        if key in self._waiting:
            self._waiting.discard(key)
            if not self._waiting:
                self.finished_at = now
                self._done.set()

    def expect(self, keys: Iterable[str]) -> None:
        """Webhook-ids, or subjects while `read_subjects`."""
        self._waiting = set(keys) - self.first.keys() - self.subjects.keys()
        self._done = asyncio.Event()
        self.peers = set()
        self.repeats = 0
        if not self._waiting:
            self.finished_at = time.time()
            self._done.set()

    async def wait(self, seconds: float, what: str) -> float:
        """When the last key expected arrived."""
        if not await self.arrived_within(seconds):
            raise SystemExit(f"{what}: {len(self._waiting)} still missing after {seconds:.0f} s")
        return self.finished_at

    async def arrived_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._done.wait(), seconds)
        except TimeoutError:
            return False
        return True


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    receiver.base = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


class Api:
    """The tenant's admin on `mailroom serve`; waits out a 429 (60 requests a minute by default)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session = session
        self._base = base
        self._auth: dict[str, str] = {}

    async def login(self) -> None:
        body = {"tenant": TENANT, "email": LOGIN, "password": PASSWORD}
        answer = await self.call("POST", "/api/auth/login", json=body)
        self._auth = {"Authorization": f"Bearer {answer['access_token']}"}

    async def call(self, method: str, path: str, **options: Any) -> Any:
        for _ in range(20):
            async with self._session.request(method, self._base + path, headers=self._auth, **options) as answer:
                if answer.status == 429:
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                    continue
                if answer.status >= 400:
                    raise SystemExit(f"{method} {path}: {answer.status} {await answer.text()}")
                return await answer.json()
        raise SystemExit(f"{method} {path}: still rate-limited")


@dataclass
class Stack:
    base: str
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *command: str, extra: dict[str, str] | None = None) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                command, env=self.env | (extra or {}), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )

    def check(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SystemExit(f"`mailroom {name}` exited ({process.returncode}):\n{self.tail(name)}")

    def tail(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def keep_logs(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for log in self.logs.glob("*.log"):
            shutil.copy(log, folder / log.name)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


async def wait_for_health(session: aiohttp.ClientSession, stack: Stack, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stack.check()
        try:
            async with session.get(f"{stack.base}/health", timeout=aiohttp.ClientTimeout(total=2)) as answer:
                if answer.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"`mailroom serve` not healthy within {seconds:.0f} s:\n{stack.tail('serve')}")


def run_mailroom(env: dict[str, str], *args: str, stdin: str = "") -> None:
    done = subprocess.run([MAILROOM, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"mailroom {' '.join(args)}: {done.stderr[-2000:]}")


def empty_inbox(mail: dict[str, str]) -> None:
    imap = imaplib.IMAP4(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]), timeout=30)
    imap.login(f"{MAIL_USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}", f"{MAIL_USER}-password-1")
    _, count = imap.select("INBOX")
    if count[0] != b"0":
        imap.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        imap.expunge()
    imap.logout()


def account_body(mail: dict[str, str]) -> dict[str, Any]:
    host, domain = mail["MAILROOM_TEST_MAIL_HOST"], mail["MAILROOM_TEST_MAIL_DOMAIN"]
    login = {"username": f"{MAIL_USER}@{domain}", "password": f"{MAIL_USER}-password-1"}
    return {
        "name": "Bench",
        "email": f"{MAIL_USER}@{domain}",
        "imap": {"host": host, "port": int(mail["MAILROOM_TEST_IMAP_PORT"]), "security": "starttls"} | login,
        "smtp": {"host": host, "port": int(mail["MAILROOM_TEST_SUBMISSION_PORT"]), "security": "starttls"} | login,
    }


def send_by_smtp(mail: dict[str, str], subject: str) -> float:
    """Through Postfix's port 25, as mail from outside arrives; returns when Postfix accepted it."""
    domain = mail["MAILROOM_TEST_MAIL_DOMAIN"]
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"outside@{domain}", f"{MAIL_USER}@{domain}", subject
    message["Message-ID"] = f"<{uuid4().hex}@{domain}>"
    message.set_content(f"{subject}: a short note, sent by SMTP to see how soon its webhook comes.\n")
    with smtplib.SMTP(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_SMTP_PORT"]), timeout=30) as smtp:
        smtp.send_message(message)
        return time.time()


async def first_sync(api: Api, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    since = "0"
    while time.monotonic() < deadline:
        page = await api.call("GET", "/api/changes", params={"since": since, "limit": "1000"})
        for event in page["items"]:
            if event["type"] == "account.synced":
                return dict(event)
        since = page["next_cursor"]
        await asyncio.sleep(1)
    raise SystemExit(f"no account.synced within {seconds:.0f} s")


@dataclass(frozen=True, slots=True)
class Latency:
    total: list[float]
    to_event: list[float]
    to_receiver: list[float]
    missing: int


async def latency(receiver: Receiver, mail: dict[str, str], count: int, interval: float) -> Latency:
    run = uuid4().hex[:8]
    subjects = [f"bench-events {run} {n}" for n in range(count)]
    accepted: dict[str, float] = {}
    receiver.expect(subjects)
    started = time.monotonic()

    async def one(n: int, subject: str) -> None:
        await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
        accepted[subject] = await asyncio.to_thread(send_by_smtp, mail, subject)

    await asyncio.gather(*(one(n, subject) for n, subject in enumerate(subjects)))
    await receiver.arrived_within(60)
    arrived = [s for s in subjects if s in receiver.subjects]
    return Latency(
        total=[receiver.subjects[s] - accepted[s] for s in arrived],
        to_event=[receiver.created[s] - accepted[s] for s in arrived],
        to_receiver=[receiver.subjects[s] - receiver.created[s] for s in arrived],
        missing=len(subjects) - len(arrived),
    )


class ChangeWriter:
    """Writes events as the service does: SqlUnitOfWork, scoped to the tenant, with the Redis doorbell."""

    def __init__(self, database_url: str, redis_url: str, tenant_id: UUID, account_id: UUID, mailbox_id: UUID):
        self.engine = create_engine(database_url)
        self.doorbell = RedisDoorbell.for_database(redis_url)  # the channels the services listen on
        self._factory = create_session_factory(self.engine)
        self.tenant_id, self._account_id, self._mailbox_id = tenant_id, account_id, mailbox_id

    def changes(self, count: int) -> list[Change]:
        now = datetime.now(UTC)
        return [message_created(self.tenant_id, self._summary(n, now), now, new_id()) for n in range(count)]

    def _summary(self, n: int, now: datetime) -> MessageSummary:
        """What a synced message's event carries: one sender, one recipient, a preview of PREVIEW_CHARS."""
        return MessageSummary(
            id=new_id(),
            account_id=self._account_id,
            mailbox_id=self._mailbox_id,
            thread_id=new_id(),
            sender=[Address("Dana Whitfield", "dana.whitfield@example.test")],
            to=[Address("Bench", f"{MAIL_USER}@example.test")],
            subject=f"Q3 figures, take {n}",
            preview=PREVIEW[:PREVIEW_CHARS],
            date=now,
            internal_date=now,
            flags=Flags(),
            size=4200 + n % 3000,
            has_attachments=n % 7 == 0,
            sender_total=1,
            to_total=1,
        )

    async def commit(self, changes: Sequence[Change]) -> float:
        """Commits in batches of BATCH; returns when the first batch was committed (and rung)."""
        first = 0.0
        with RowLevelTenantScope()(self.tenant_id):
            for start in range(0, len(changes), BATCH):
                async with SqlUnitOfWork(self._factory, doorbell=self.doorbell) as uow:
                    for change in changes[start : start + BATCH]:
                        uow.changes.record(change)
                    await uow.commit()
                first = first or time.time()
        return first

    async def close(self) -> None:
        await self.doorbell.close()
        await self.engine.dispose()


@dataclass(frozen=True, slots=True)
class Round:
    """A throughput round; the times are seconds after the first batch was committed."""

    rate: float
    committed: float
    fanned_out: float
    first_post: float
    received: float
    recorded: float
    connections: int
    repeats: int
    post_ms: float


async def mailroom_round(receiver: Receiver, writer: ChangeWriter, owner_dsn: str, count: int) -> Round:
    """Also waits until every attempt is recorded, so the next round (or the raw one) does not share the machine
    with this one's tail; the change log gets no other events meanwhile (no mail is sent), so this round's rows
    are the ones written since it began."""
    changes = writer.changes(count)
    receiver.expect(str(change.id) for change in changes)
    since = datetime.now(UTC)
    first = await writer.commit(changes)
    committed = time.time() - first
    received = await receiver.wait(max(120.0, count / 20), "mailroom's deliveries")
    first_post = min(receiver.first[str(change.id)] for change in changes)
    connections, repeats = len(receiver.peers), receiver.repeats
    connection = await asyncpg.connect(owner_dsn)
    try:
        await connection.execute("SELECT set_config('app.tenant_id', $1, false)", str(writer.tenant_id))
        deadline = time.monotonic() + 120
        while True:
            attempts = await connection.fetchrow(
                "SELECT count(*) AS n, max(at) AS last, avg(duration_ms) AS post_ms FROM webhook_attempts"
                " WHERE at >= $1",
                since,
            )
            if attempts["n"] >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        fanned_out = await connection.fetchval(
            "SELECT max(created_at) FROM webhook_deliveries WHERE created_at >= $1", since
        )
    finally:
        await connection.close()
    if attempts["n"] < count:
        raise SystemExit(f"only {attempts['n']} of {count} attempts recorded 120 s after the receiver had them all")
    return Round(
        rate=count / (received - first),
        committed=committed,
        fanned_out=fanned_out.timestamp() - first,
        first_post=first_post - first,
        received=received - first,
        recorded=attempts["last"].timestamp() - first,
        connections=connections,
        repeats=repeats,
        post_ms=float(attempts["post_ms"]),
    )


async def raw_round(receiver: Receiver, body_file: Path, count: int, number: int) -> tuple[float, int]:
    """Posts from another process, started and warmed up before the clock starts."""
    prefix = f"raw{number}-{uuid4().hex[:6]}"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RAW_CHILD, f"{receiver.base}/raw", str(body_file), prefix, str(count),
        str(PER_ENDPOINT), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        ready = await asyncio.wait_for(child.stdout.readline(), 60)
        if ready.strip() != b"ready":
            raise SystemExit(f"the raw poster did not start: {ready!r}")
        receiver.expect(f"{prefix}-{n}" for n in range(count))
        started = time.time()
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        finished = await receiver.wait(max(120.0, count / 20), "the raw posts")
        await asyncio.wait_for(child.wait(), 30)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return count / (finished - started), len(receiver.peers)


def post_raw(argv: Sequence[str]) -> None:
    url, body_file, prefix, count, concurrency = argv
    asyncio.run(_post_raw(url, Path(body_file).read_bytes(), prefix, int(count), int(concurrency)))


async def _post_raw(url: str, body: bytes, prefix: str, count: int, concurrency: int) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:

        async def post(event_id: str) -> None:
            headers = {"content-type": "application/json", "webhook-id": event_id}
            async with session.post(url, data=body, headers=headers) as answer:
                await answer.read()
                if answer.status != 200:
                    raise SystemExit(f"the receiver answered {answer.status}")

        await asyncio.gather(*(post(f"{prefix}-warm-{n}") for n in range(concurrency)))
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        numbers = iter(range(count))

        async def lane() -> None:
            for n in numbers:
                await post(f"{prefix}-{n}")

        await asyncio.gather(*(lane() for _ in range(concurrency)))


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def owned_keys(redis: Redis, before: set[bytes]) -> list[bytes]:
    return [key async for key in redis.scan_iter(count=1000) if key not in before or key == STREAM]


def service_role(admin_url: URL, name: str) -> tuple[str, list[str]]:
    """A login role that may read and write the tables but owns none, no superuser, no BYPASSRLS: the service as
    README deploys it (and as tests/integration/conftest.py `app_role_url` makes it)."""
    role, password = f"{name}_app", secrets.token_hex(16)
    statements = [
        f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}' NOSUPERUSER NOBYPASSRLS",
        f'GRANT USAGE ON SCHEMA public TO "{role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
    ]
    url = admin_url.set(drivername="postgresql+asyncpg", database=name, username=role, password=password)
    return url.render_as_string(hide_password=False), statements


def dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def run(args: argparse.Namespace) -> None:
    mail = mail_env()
    admin_url = make_url(os.environ.get("MAILROOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    redis_url = os.environ.get("MAILROOM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    name = f"mailroom_bench_{uuid4().hex[:8]}"
    owner_url = admin_url.set(database=name)
    redis = Redis.from_url(redis_url)
    before = {key async for key in redis.scan_iter(count=1000)}
    await redis.delete(STREAM)  # a stale stream would hand the worker another run's tasks
    await admin(dsn(admin_url), f'CREATE DATABASE "{name}"')
    role_made = False
    writer: ChangeWriter | None = None
    with tempfile.TemporaryDirectory() as data_dir:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")} | {
            "MAILROOM_DATA_DIR": data_dir,
            "MAILROOM_REDIS_URL": redis_url,
            "MAILROOM_ALLOW_PRIVATE_MAIL_HOSTS": "true",
            "MAILROOM_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",
            "MAILROOM_MAIL_CA_FILE": mail["MAILROOM_TEST_MAIL_CA_FILE"],
        }
        owner_database = owner_url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        stack = Stack("", environ, Path(data_dir))
        try:
            run_mailroom(environ | {"MAILROOM_DATABASE_URL": owner_database}, "migrate")
            service_url, statements = service_role(admin_url, name)
            for statement in statements:
                await admin(dsn(owner_url), statement)
                role_made = True  # from the first statement, CREATE ROLE, on
            stack.env = environ | {"MAILROOM_DATABASE_URL": service_url}
            create = ("users", "create", "--tenant", TENANT, "--email", LOGIN, "--password-stdin")
            run_mailroom(stack.env, *create, stdin=PASSWORD + "\n")
            empty_inbox(mail)

            async with receiving() as receiver, aiohttp.ClientSession() as session:
                port = free_port()
                stack.base = f"http://127.0.0.1:{port}"
                stack.start("serve", MAILROOM, "serve", extra={"MAILROOM_PORT": str(port)})
                worker = [MAILROOM, "worker"]
                if args.profile:
                    worker = [sys.executable, "-m", "cProfile", "-o", args.profile, *worker]
                stack.start("worker", *worker)
                stack.start("scheduler", MAILROOM, "scheduler")
                await wait_for_health(session, stack)
                api = Api(session, stack.base)
                await api.login()
                await api.call(
                    "POST", "/api/webhooks", json={"url": f"{receiver.base}/hook", "events": ["message.created"]}
                )
                account = await api.call("POST", "/api/accounts", json=account_body(mail))
                synced = await first_sync(api)
                boxes = await api.call("GET", f"/api/accounts/{account['id']}/mailboxes")
                inbox = next(box for box in boxes["items"] if box["role"] == "inbox")

                receiver.read_subjects = True
                warm_up = f"bench-events warm-up {uuid4().hex[:8]}"
                receiver.expect([warm_up])
                await asyncio.to_thread(send_by_smtp, mail, warm_up)
                if not await receiver.arrived_within(120):
                    stack.check()
                    raise SystemExit("the warm-up message's webhook did not come within 120 s")
                print(f"latency: {args.messages} messages by SMTP, one every {args.interval:g} s ...", flush=True)
                measured = await latency(receiver, mail, args.messages, args.interval)
                receiver.read_subjects = False
                stack.check()

                writer = ChangeWriter(
                    service_url, redis_url, UUID(synced["tenant_id"]), UUID(account["id"]), UUID(inbox["id"])
                )
                sample = writer.changes(1)[0]
                body = msgspec.json.encode(change_document(LoggedChange(123_456, sample)))
                body_file = Path(data_dir) / "body.json"
                body_file.write_bytes(body)
                rounds: list[Round] = []
                raw: list[tuple[float, int]] = []
                for number in range(1, args.rounds + 1):
                    rounds.append(await mailroom_round(receiver, writer, dsn(owner_url), args.events))
                    stack.check()
                    raw.append(await raw_round(receiver, body_file, args.events, number))
                    got, (raw_rate, raw_connections) = rounds[-1], raw[-1]
                    print(
                        f"round {number}: mailroom {got.rate:.0f} events/s, raw {raw_rate:.0f} posts/s "
                        f"({raw_connections} connections)\n"
                        f"  after the first commit: all committed +{got.committed:.2f} s, all fanned out "
                        f"+{got.fanned_out:.2f} s, first POST +{got.first_post:.2f} s, all received "
                        f"+{got.received:.2f} s, all recorded +{got.recorded:.2f} s\n"
                        f"  {got.connections} connections to the receiver, {got.post_ms:.1f} ms a POST as the "
                        f"worker timed it, {got.repeats} repeated deliveries",
                        flush=True,
                    )
        finally:
            stack.stop()
            if args.logs:
                stack.keep_logs(Path(args.logs))
            if writer is not None:
                await writer.close()
            owned = await owned_keys(redis, before)
            for start in range(0, len(owned), 1000):
                await redis.delete(*owned[start : start + 1000])
            await redis.aclose()
            await admin(dsn(admin_url), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if role_made:
                await admin(dsn(admin_url), f'DROP ROLE IF EXISTS "{name}_app"')

    report(args, measured, rounds, raw, len(body))


def report(
    args: argparse.Namespace, measured: Latency, rounds: list[Round], raw: list[tuple[float, int]], size: int
) -> None:
    total = measured.total
    print()
    print(f"latency, SMTP acceptance to webhook received ({len(total)} of {args.messages} messages):")
    if total:
        p95 = quantile(total, 0.95)
        print(
            f"  p50 {statistics.median(total) * 1000:.0f} ms   p95 {p95 * 1000:.0f} ms   max {max(total) * 1000:.0f} ms"
            f"   (target p95 <= 2000 ms: {'met' if p95 <= 2 else 'NOT met'})"
        )
        print(
            f"  of which acceptance to the event's created_at (Postfix, Dovecot, IDLE, the sync): median "
            f"{statistics.median(measured.to_event) * 1000:.0f} ms; created_at to received (commit, ring, job, "
            f"dispatch): median {statistics.median(measured.to_receiver) * 1000:.0f} ms"
        )
    if measured.missing:
        print(f"  {measured.missing} messages had no webhook within 60 s of the last send")
    mailroom = statistics.median(r.rate for r in rounds)
    baseline = statistics.median(rate for rate, _ in raw)
    print(f"throughput, {args.events} events committed {BATCH} a transaction, one worker ({size} B bodies):")
    print(
        f"  mailroom: median {mailroom:.0f} events/s over {len(rounds)} round(s)"
        f"   (target >= 1000: {'met' if mailroom >= 1000 else 'NOT met'})"
    )
    print(f"  raw aiohttp, {PER_ENDPOINT} at once: median {baseline:.0f} posts/s")
    print(f"  ratio mailroom / raw: {mailroom / baseline:.2f}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200, help="messages sent by SMTP for the latency")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between two of those messages")
    parser.add_argument("--events", type=int, default=10_000, help="events committed in each throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds, each followed by a raw one")
    parser.add_argument("--profile", help="run the worker under cProfile and write its statistics to PROFILE")
    parser.add_argument("--logs", help="keep the logs of serve, worker and scheduler (a line per job) in LOGS")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
