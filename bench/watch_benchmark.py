"""`uv run just bench-watch`: one `mailroom worker` holding the inbox watches of N accounts (default 2,000) on the
local Dovecot, each an IDLE connection of its own: the worker's memory and CPU once every watch is up, beside the
same worker with watches turned off (the baseline, measured in the same run).

The accounts are Dovecot users the benchmark adds to the local mail servers' passwd-file (`watchNNNN@example.test`)
and removes again at the end; the worker claims them through its watch leases like any worker. Needs the local
mail servers (`uv run just services`, as root; Dovecot's imap process_limit must allow N connections: the script
sets 4096), Postgres (MAILROOM_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres; a
throwaway database is made on it) and Redis (MAILROOM_BENCH_REDIS_URL, default redis://127.0.0.1:6379/14, flushed).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import asyncpg
from redis.asyncio import Redis

from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.migrations import upgrade
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.system_clock import SystemClock
from domain.accounts import MailAccount, Security, ServerSettings, secret_binding
from domain.ids import new_id
from domain.tenants import Tenant
from entrypoints.settings import load_settings

MAILSERVERS_DIR = Path(os.environ.get("MAILROOM_MAILSERVERS_DIR", "/tmp/mailroom-mailservers"))
DOMAIN = "example.test"
IMAP_PORT = 10143


def add_users(count: int) -> list[str]:
    """Users in Dovecot's passwd-file, which it reads again when the file changes."""
    users_file = MAILSERVERS_DIR / "users"
    template = next(line for line in users_file.read_text().splitlines() if line.startswith("bench@"))
    _, _, uid, gid, _, home, *_ = template.split(":")
    base = home.rsplit("/", 1)[0]
    names = [f"watch{n:04d}" for n in range(count)]
    lines = [f"{name}@{DOMAIN}:{{PLAIN}}{name}-password-1:{uid}:{gid}::{base}/{name}::" for name in names]
    with users_file.open("a") as out:
        out.write("\n".join(lines) + "\n")
    return names


def remove_users() -> None:
    users_file = MAILSERVERS_DIR / "users"
    kept = [line for line in users_file.read_text().splitlines() if not line.startswith("watch")]
    users_file.write_text("\n".join(kept) + "\n")


async def admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def store_accounts(environ: dict[str, str], names: list[str]) -> None:
    settings = load_settings(environ)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    factory = create_session_factory(engine)
    cipher, now = AesGcmCredentialCipher(settings.keyring()), SystemClock().now()
    tenant = Tenant(new_id(), "watch-bench", "Watch bench")
    async with SqlUnitOfWork(factory) as uow:
        await uow.tenants.add(tenant)
        for name in names:
            account_id = new_id()
            server = ServerSettings("127.0.0.1", IMAP_PORT, Security.NONE, f"{name}@{DOMAIN}")
            secrets = [
                cipher.encrypt(f"{name}-password-1", secret_binding(account_id, f))
                for f in ("imap_password", "smtp_password")
            ]
            account = MailAccount(
                account_id, tenant.id, name, f"{name}@{DOMAIN}", server, server, *secrets, now, now,
                server_saves_sent=True,
            )  # fmt: skip
            await uow.accounts.add(account)
        await uow.commit()
    await engine.dispose()


def connections_of(pid: int) -> int:
    """Established connections of `pid` to Dovecot's IMAP port."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( dport = :{IMAP_PORT} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sum(f"pid={pid}," in line for line in out.splitlines())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


async def syncs_in_flight(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM account_syncs WHERE phase IN ('queued', 'running')"))
    finally:
        await connection.close()


async def measure(env: dict[str, str], dsn: str, watches: bool, count: int, window: float) -> dict[str, float]:
    """Starts a worker, waits until it holds `count` IDLE connections and the syncs their connecting queued are done
    (a watch asks for one as it connects), then reads its CPU over `window` seconds and its memory. Without
    watches, nothing queues syncs: it only settles."""
    command = [str(Path(sys.executable).with_name("mailroom")), "worker"]
    worker = await asyncio.create_subprocess_exec(
        *command, env=env | {"MAILROOM_IDLE_ENABLED": "true" if watches else "false"}
    )
    try:
        started = time.perf_counter()
        if watches:
            while (held := connections_of(worker.pid)) < count:
                if time.perf_counter() - started > 600:
                    raise SystemExit(f"only {held} of {count} watches after 600 s")
                await asyncio.sleep(1)
        ready = time.perf_counter() - started
        await asyncio.sleep(5)
        while watches and await syncs_in_flight(dsn):
            if time.perf_counter() - started > 1200:
                raise SystemExit("the syncs the watches queued did not end within 1200 s")
            await asyncio.sleep(1)
        drained = time.perf_counter() - started
        await asyncio.sleep(10)
        before = cpu_seconds(worker.pid)
        await asyncio.sleep(window)
        cpu = (cpu_seconds(worker.pid) - before) / window * 100
        return {
            "ready_s": ready,
            "syncs_done_s": drained,
            "cpu_percent": cpu,
            "rss_mb": memory_mb(worker.pid),
            "peak_mb": memory_mb(worker.pid, "VmHWM"),
            "connections": connections_of(worker.pid),
        }
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 60)


async def run(args: argparse.Namespace) -> None:
    admin_url = os.environ.get("MAILROOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("MAILROOM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    name = f"mailroom_bench_{uuid4().hex[:8]}"
    await admin(admin_url, f'CREATE DATABASE "{name}"')
    database_url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    await Redis.from_url(redis_url).flushdb()
    names = add_users(args.accounts)
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            environ = {
                "MAILROOM_DATA_DIR": data_dir,
                "MAILROOM_DATABASE_URL": database_url,
                "MAILROOM_REDIS_URL": redis_url,
                "MAILROOM_ALLOW_PRIVATE_MAIL_HOSTS": "true",
                "MAILROOM_LOG_LEVEL": "WARNING",
                "MAILROOM_WATCHES_PER_PROCESS": str(args.accounts),
            }
            await store_accounts(environ, names)
            env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")} | environ
            results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
            dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
            for number in range(1, args.rounds + 1):
                for watches in (False, True):
                    await Redis.from_url(redis_url).flushdb()  # no job left from the round before
                    result = await measure(env, dsn, watches, args.accounts, args.window)
                    results[watches].append(result)
                    label = f"{args.accounts} watches" if watches else "no watches"
                    print(f"round {number}, {label}: " + ", ".join(f"{k} {v:.1f}" for k, v in result.items()))
    finally:
        remove_users()
        await admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def median(watches: bool, key: str) -> float:
        return statistics.median(r[key] for r in results[watches])

    extra = median(True, "rss_mb") - median(False, "rss_mb")
    print(f"\nmedians of {args.rounds} rounds, one worker, {args.accounts} accounts:")
    print(f"  no watches:        RSS {median(False, 'rss_mb'):.0f} MB, CPU {median(False, 'cpu_percent'):.2f} %")
    print(
        f"  {args.accounts} watches:     RSS {median(True, 'rss_mb'):.0f} MB (peak {median(True, 'peak_mb'):.0f} MB),"
        f" CPU {median(True, 'cpu_percent'):.2f} % while idle, all up in {median(True, 'ready_s'):.0f} s"
    )
    print(f"  per watch:         {extra * 1024 / args.accounts:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=60, help="seconds of CPU measured once the watches are up")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
