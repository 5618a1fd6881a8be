"""`uv run just bench-sync`: a first sync of 20,000 messages (~640 MB) from Dovecot into Postgres, a re-sync
with nothing new, and, in the same run, the raw transport rate of a plain imaplib `UID FETCH 1:* BODY.PEEK[]`
of the same mailbox as the baseline.

Needs the local mail servers (`uv run just services`, as root) and Postgres (MAILROOM_BENCH_POSTGRES_URL,
default postgresql://postgres@127.0.0.1:5432/postgres; a throwaway database is made on it)."""

import argparse
import asyncio
import imaplib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import asyncpg

from bench.corpus import fill_maildir

SERVICE_ROLE = "mailroom_bench_service"
ENV_FILE = Path(os.environ.get("MAILROOM_MAILSERVERS_DIR", "/tmp/mailroom-mailservers")) / "env"


def mail_env() -> dict[str, str]:
    if not ENV_FILE.exists():
        raise SystemExit("start the mail servers first: uv run just services")
    return dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)


def raw_fetch(host: str, port: int) -> tuple[float, int, int]:
    client = imaplib.IMAP4(host, port)
    client.login("bench@example.test", "bench-password-1")
    client.select("INBOX", readonly=True)
    started = time.perf_counter()
    _, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
    elapsed = time.perf_counter() - started
    client.logout()
    bodies = [part[1] for part in data if isinstance(part, tuple)]
    return elapsed, len(bodies), sum(len(b) for b in bodies)


async def service_role(admin_url: str, database: str) -> str:
    """A login role without BYPASSRLS, granted what README grants `mailroom_app` on the tables to come."""
    password = uuid4().hex
    await admin(admin_url, f"CREATE ROLE \"{SERVICE_ROLE}\" LOGIN PASSWORD '{password}' NOSUPERUSER NOBYPASSRLS")
    database_url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    await admin(database_url, f'GRANT USAGE ON SCHEMA public TO "{SERVICE_ROLE}"')
    await admin(
        database_url,
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{SERVICE_ROLE}"',
    )
    host = admin_url.split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{SERVICE_ROLE}:{password}@{host}/{database}"


async def admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--service-role",
        action="store_true",
        help="sync as a role under row-level security (README: run the service so), which stores with INSERT",
    )
    args = parser.parse_args()
    env = mail_env()
    host, port = env["MAILROOM_TEST_MAIL_HOST"], int(env["MAILROOM_TEST_IMAP_PORT"])
    maildir = Path(env["MAILROOM_TEST_MAIL_DIR"], "bench", "Maildir")

    started = time.perf_counter()
    size = fill_maildir(maildir, args.messages)
    print(f"corpus: {args.messages} messages, {size / 1e6:.0f} MB written in {time.perf_counter() - started:.1f} s")
    warm = imaplib.IMAP4(host, port)
    warm.login("bench@example.test", "bench-password-1")
    warm.select("INBOX", readonly=True)
    warm.logout()

    raw_seconds, raw_count, raw_bytes = raw_fetch(host, port)
    assert raw_count == args.messages, raw_count

    admin_url = os.environ.get("MAILROOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mailroom_bench_{uuid4().hex[:8]}"
    asyncio.run(admin(admin_url, f'CREATE DATABASE "{name}"'))
    database_url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    service = [asyncio.run(service_role(admin_url, name))] if args.service_role else []
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            child = subprocess.run(
                [sys.executable, "-m", "bench.sync_child", database_url, data_dir, host, str(port), *service],
                capture_output=True,
                text=True,
                check=False,
            )
        if child.returncode != 0:
            raise SystemExit(child.stderr[-3000:])
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        asyncio.run(admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if service:
            asyncio.run(admin(admin_url, f'DROP ROLE IF EXISTS "{SERVICE_ROLE}"'))

    first_rate = figures["first_messages"] / figures["first_seconds"]
    raw_rate = raw_count / raw_seconds
    print(
        f"raw imaplib UID FETCH 1:* BODY.PEEK[]: {raw_seconds:.2f} s, {raw_rate:.0f} msg/s, "
        f"{raw_bytes / 1e6 / raw_seconds:.0f} MB/s"
    )
    how = "as a role under row-level security (INSERT)" if args.service_role else "as the tables' owner (COPY)"
    print(
        f"first sync into Postgres:            {figures['first_seconds']:.2f} s, {first_rate:.0f} msg/s "
        f"({figures['first_messages']:.0f} messages, {how})"
    )
    print(f"  ratio to the raw transport:        {first_rate / raw_rate:.2f}")
    print(
        f"re-sync with nothing new:            {figures['resync_seconds']:.3f} s "
        f"({figures['resync_messages']:.0f} messages fetched)"
    )
    print(f"peak RSS of the syncing process:     {figures['peak_rss_mb']:.0f} MB")
    print(
        f"then the deferred word pairs (job):   {figures['pairs_seconds']:.2f} s, "
        f"{figures['pairs_messages'] / figures['pairs_seconds']:.0f} msg/s ({figures['pairs_messages']:.0f} messages)"
    )


if __name__ == "__main__":
    main()
