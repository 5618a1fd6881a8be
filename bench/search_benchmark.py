"""`uv run just bench-search`: a million generated messages of one tenant (20 accounts) loaded into Postgres with
COPY, then p50/p95 at the HTTP level of 200 queries of each search kind and of the list endpoint's first and tenth
page, and a 20 s `wrk` load (64 connections) of the list endpoint beside a bare Litestar endpoint measured in the
same run. Needs Postgres (MAILROOM_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres; a
throwaway database is made on it) and `wrk` (Debian package wrk)."""

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import asyncpg
import httpx

from application.accounts.commands import NewMailAccount, ServerLogin
from application.accounts.create import CreateMailAccount
from application.messages.search_index import CatchUpSearchIndex
from bench.search_corpus import START, Corpus, Mailbox, load, make_corpus, rows
from domain.accounts import Security
from domain.auth import Principal
from domain.ids import new_id
from domain.mailboxes import Mailbox as Folder
from domain.mailboxes import MailboxRole
from domain.ports.persistence import TenantScope, UnitOfWork
from domain.sync import AccountSync
from domain.tenants import Role
from entrypoints.container import build_container
from entrypoints.operations import create_user, migrate
from entrypoints.settings import Settings, load_settings
from entrypoints.worker.runtime import create_broker

PASSWORD = "bench-password-long"
ACCOUNTS = 20
MAILROOM_PORT, BARE_PORT = 8701, 8702
POSTGRES_SETTINGS = ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost")


async def prepare(settings: Settings, dsn: str, messages: int) -> list[Mailbox]:
    await migrate(settings)
    assert await create_user(settings, "bench", "bench@bench.test", PASSWORD, "admin") == 0
    container = build_container(settings, create_broker(settings))
    boxes: list[Mailbox] = []
    async with container() as request:
        uow = await request.get(UnitOfWork)
        async with uow:
            tenant = await uow.tenants.get_by_slug("bench")
            assert tenant is not None
            owner = await uow.users.get_by_email(tenant.id, "bench@bench.test")
        assert owner is not None
        create = await request.get(CreateMailAccount)
        for n in range(ACCOUNTS):
            login = ServerLogin("127.0.0.1", 9, Security.NONE, f"box{n}@bench.test", "unused")
            account = await create(
                Principal(owner.id, tenant.id, Role.ADMIN), NewMailAccount(f"Box {n}", login.username, login, login)
            )
            inbox = Folder(new_id(), tenant.id, account.id, "INBOX", "/", MailboxRole.INBOX, None)
            archive = Folder(new_id(), tenant.id, account.id, "Archive", "/", MailboxRole.ARCHIVE, None)
            sync = AccountSync(tenant.id, account.id)
            sync.finish(START + timedelta(days=10_000))  # not due: the scheduler leaves the bench accounts alone
            async with uow:
                await uow.mailboxes.add(inbox)
                await uow.mailboxes.add(archive)
                await uow.syncs.save(sync)
                await uow.commit()
            boxes += [Mailbox(tenant.id, account.id, f.id, login.username) for f in (inbox, archive)]
    await container.close()
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        gin = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename IN ('messages', 'message_word_pairs') AND indexdef LIKE '%USING gin%'"
        )
        for index in gin:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        loaded = await load(connection, rows(make_corpus(), boxes, messages))
        print(f"loaded {loaded:,} messages with COPY in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        indexed = await catch_up(settings)
        print(f"word pairs of {indexed:,} messages (the scheduled job) in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        await connection.execute("SET maintenance_work_mem = '1GB'")
        for index in gin:
            await connection.execute(index["indexdef"])
        print(f"built the {len(gin)} GIN indexes (text, trigrams, pairs) in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE messages, message_word_pairs, message_word_pairs_pending")
        print(f"VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")
        settings_shown = [f"{name} {await connection.fetchval(f'SHOW {name}')}" for name in POSTGRES_SETTINGS]
        print(f"Postgres {await connection.fetchval('SHOW server_version')}: {', '.join(settings_shown)}")
    finally:
        await connection.close()
    return boxes


async def catch_up(settings: Settings) -> int:
    """What the scheduler's `catch_up_search_index` job does after a sync, through the same use case: run after
    run (each stops after its time budget) until the queue is empty."""
    container = build_container(settings, create_broker(settings))
    total = 0
    try:
        async with container() as request:
            catch_up_once = await request.get(CatchUpSearchIndex)
            with (await request.get(TenantScope)).system():
                while indexed := await catch_up_once():
                    total += indexed
    finally:
        await container.close()
    return total


def serve(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "bench.serve_app", kind, str(port)], env=env)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/{'health' if kind == 'mailroom' else 'ping'}", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the {kind} server did not start")


async def measure(
    base: str, token: str, inboxes: list[tuple[str, str]], corpus: Corpus, queries: int
) -> dict[str, list[float]]:
    phrases = [" ".join(s.split()[:2]) for s in corpus.sentences[100 : 100 + queries]]
    kinds: dict[str, Callable[[int], tuple[str, dict[str, str]]]] = {
        "full-text word": lambda i: ("/api/sync/search", {"q": corpus.word(200 + i)}),
        "two-word phrase": lambda i: ("/api/sync/search", {"q": f'"{phrases[i]}"'}),
        "from address": lambda i: ("/api/sync/search", {"from": f"user{i * 7}@sender{i * 7 % 97}.test"}),
        "date range (7 days)": lambda i: ("/api/sync/search", _window(i * 3, 7)),
        "unread in one mailbox": lambda i: (
            f"/api/accounts/{inboxes[i % ACCOUNTS][0]}/messages",
            {"mailbox": inboxes[i % ACCOUNTS][1], "unread": "true"},
        ),
        "combination": lambda i: (
            "/api/sync/search",
            {"q": corpus.word(50 + i), "has_attachments": "true", "unread": "false", **_window(i * 3, 180)},
        ),
        "list, first page": lambda i: (f"/api/accounts/{inboxes[i % ACCOUNTS][0]}/messages", {}),
    }
    timings: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for name, request in kinds.items():
            timings[name] = [await _timed(client, *request(i)) for i in range(queries)]
        timings["list, tenth page"] = [await _tenth_page(client, inboxes[i % ACCOUNTS][0]) for i in range(queries)]
    return timings


def _window(start_day: int, days: int) -> dict[str, str]:
    since = START + timedelta(days=start_day % 700)
    return {"since": since.isoformat(), "before": (since + timedelta(days=days)).isoformat()}


async def _timed(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = await client.get(path, params=params)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed


async def _tenth_page(client: httpx.AsyncClient, account_id: str) -> float:
    path, params = f"/api/accounts/{account_id}/messages", {}
    for _ in range(9):
        params = {"cursor": (await client.get(path, params=params)).json()["next_cursor"]}
    return await _timed(client, path, params)


def wrk(url: str, token: str | None, seconds: int) -> tuple[float, str]:
    command = ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE).group(1)  # type: ignore[union-attr]  # not "80.99%"
    return rate, p99


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--wrk-seconds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards, to look into plans")
    parser.add_argument("--database", help="measure a database an earlier run kept, instead of loading a new one")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    admin_url = os.environ.get("MAILROOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = args.database or f"mailroom_search_{uuid4().hex[:8]}"
    if not args.database:
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    dsn = admin_url.rsplit("/", 1)[0] + f"/{name}"
    servers: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")} | {
                "MAILROOM_DATA_DIR": data_dir,
                "MAILROOM_DATABASE_URL": dsn,
                "MAILROOM_IDLE_ENABLED": "false",
                "MAILROOM_LOG_LEVEL": "WARNING",
                "MAILROOM_RATE_LIMIT_PER_MINUTE": "1000000000",  # wrk is one user: measure the API, not the limit
                "MAILROOM_RATE_LIMIT_PER_HOUR": "1000000000",
            }
            settings = load_settings(env)
            if args.database:
                inboxes = asyncio.run(_inboxes(dsn))
            else:
                inboxes = [
                    (str(b.account_id), str(b.mailbox_id))
                    for b in asyncio.run(prepare(settings, dsn, args.messages))[::2]
                ]
            servers = [serve("mailroom", MAILROOM_PORT, env), serve("bare", BARE_PORT, env)]
            base = f"http://127.0.0.1:{MAILROOM_PORT}"
            login = {"tenant": "bench", "email": "bench@bench.test", "password": PASSWORD}
            token = httpx.post(f"{base}/api/auth/login", json=login).json()["access_token"]
            timings = asyncio.run(measure(base, token, inboxes, make_corpus(), args.queries))
            print(f"\n{args.queries} requests each, one at a time, at the HTTP level ({args.messages:,} messages):")
            print(f"  {'kind':<24} {'p50 ms':>8} {'p95 ms':>8}")
            for kind, values in timings.items():
                print(f"  {kind:<24} {percentile(values, 0.5):>8.1f} {percentile(values, 0.95):>8.1f}")
            list_url = f"{base}/api/accounts/{inboxes[0][0]}/messages"
            rate, p99 = wrk(list_url, token, args.wrk_seconds)
            bare_rate, bare_p99 = wrk(f"http://127.0.0.1:{BARE_PORT}/ping", None, args.wrk_seconds)
            print(f"\nwrk, {args.wrk_seconds} s, 64 connections, one uvicorn worker each:")
            print(f"  list endpoint (first page): {rate:>8.0f} req/s, p99 {p99}")
            print(f"  bare Litestar endpoint:     {bare_rate:>8.0f} req/s, p99 {bare_p99}")
            print(f"  ratio (list / bare):        {rate / bare_rate:>8.2f}")
    finally:
        for server in servers:
            server.terminate()
            server.wait()
        if args.keep or args.database:
            print(f"kept the database {dsn}")
        else:
            asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _inboxes(dsn: str) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(dsn)
    try:
        found = await connection.fetch("SELECT account_id, id FROM mailboxes WHERE name = 'INBOX' ORDER BY account_id")
    finally:
        await connection.close()
    return [(str(row["account_id"]), str(row["id"])) for row in found]


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
