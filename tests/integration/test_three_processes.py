"""The production shape without containers (what compose runs, natively): `mailroom serve`, `mailroom worker`
and `mailroom scheduler` as three processes on Postgres (as the service's own role, under row-level security)
and Redis. A sync and a send go through them: the API queues, the worker does, the scheduler is alive."""

import asyncio
import imaplib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from tests.conftest import mail_server_settings
from tests.e2e.test_cli import MAILROOM, free_port, wait_for_health
from tests.integration.conftest import env_without_mailroom, run_sql
from tests.integration.test_send_on_postfix import RECIPIENT, SENDER, account_body, mailbox, messages_in

PASSWORD = "three-processes-password"


@pytest.fixture(scope="module")
def mail() -> dict[str, str]:
    return mail_server_settings()


@pytest.fixture
def stack(postgres_url: str, app_role_url: str, redis_url: str, tmp_path: Path, mail: dict[str, str]) -> Iterator[str]:
    Redis.from_url(redis_url).delete("mailroom")  # jobs left by other tests belong to other databases
    env = env_without_mailroom() | {
        "MAILROOM_DATA_DIR": str(tmp_path),
        "MAILROOM_REDIS_URL": redis_url,
        "MAILROOM_ALLOW_PRIVATE_MAIL_HOSTS": "true",
        "MAILROOM_MAIL_CA_FILE": mail["MAILROOM_TEST_MAIL_CA_FILE"],
        "MAILROOM_LOG_LEVEL": "WARNING",
    }
    owner = env | {"MAILROOM_DATABASE_URL": postgres_url}
    assert subprocess.run([MAILROOM, "migrate"], env=owner, capture_output=True, check=False).returncode == 0
    service = env | {"MAILROOM_DATABASE_URL": app_role_url}
    create = [MAILROOM, "users", "create", "--tenant", "three", "--email", "ops@three.test", "--password-stdin"]
    created = subprocess.run(create, env=service, input=PASSWORD + "\n", capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stderr
    port = free_port()
    processes = [
        subprocess.Popen([MAILROOM, "serve"], env=service | {"MAILROOM_PORT": str(port)}),
        subprocess.Popen([MAILROOM, "worker"], env=service),
        subprocess.Popen([MAILROOM, "scheduler"], env=service),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base)
        yield base
    finally:
        for process in processes:
            process.terminate()
        for process in processes:  # uvicorn re-raises SIGTERM once it has shut down gracefully
            assert process.wait(timeout=40) in (0, -signal.SIGTERM), process.args
        assert (tmp_path / "scheduler.heartbeat").exists()
        run_sql(postgres_url, "TRUNCATE tenants CASCADE")  # the session's database is shared with other tests


async def until(client: httpx.AsyncClient, path: str, done: Any, seconds: float = 30) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(int(seconds / 0.2)):
        body = (await client.get(path)).json()
        if done(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path}: {body}")


@pytest.fixture
def inbox(mail: dict[str, str]) -> Iterator[imaplib.IMAP4]:
    yield from mailbox(mail, RECIPIENT, "INBOX")


async def test_a_sync_and_a_send_through_api_worker_and_scheduler(
    stack: str, mail: dict[str, str], inbox: imaplib.IMAP4
) -> None:
    async with httpx.AsyncClient(base_url=stack) as client:
        login = {"tenant": "three", "email": "ops@three.test", "password": PASSWORD}
        token = (await client.post("/api/auth/login", json=login)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        account = (
            await client.post("/api/accounts", json=account_body(mail, "MAILROOM_TEST_SUBMISSION_PORT", "starttls"))
        ).json()
        assert (await client.post(f"/api/sync/imap/{account['id']}")).status_code == 202
        synced = await until(
            client, f"/api/sync/status/{account['id']}", lambda s: s["state"] not in ("queued", "running")
        )
        assert synced["state"] == "idle", synced
        boxes = (await client.get(f"/api/accounts/{account['id']}/mailboxes")).json()["items"]
        assert {"inbox", "sent", "trash"} <= {b["role"] for b in boxes}

        recipient = f"{RECIPIENT}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
        draft = (
            await client.post(
                "/api/compose", json={"account_id": account["id"], "to": [recipient], "subject": "Three processes"}
            )
        ).json()
        assert (await client.post(f"/api/compose/{draft['id']}/send")).status_code == 202
        sent = await until(client, f"/api/compose/{draft['id']}", lambda d: d["status"] in ("sent", "failed"))
        assert sent["status"] == "sent", sent
    [(_, raw)] = await messages_in(inbox, "INBOX")
    assert b"Three processes" in raw
    assert SENDER.encode() in raw
