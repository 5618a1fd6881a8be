import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from adapters.memory.store import MemoryStore
from domain.messages import Flags
from domain.sync import AccountSync
from tests.e2e.conftest import Login, account_body
from tests.unit.mail_corpus import plain


async def wait_for_idle(client: AsyncTestClient[Litestar], account_id: str, auth: dict[str, str]) -> dict[str, Any]:
    status: dict[str, Any] = {}
    for _ in range(100):
        status = (await client.get(f"/api/sync/status/{account_id}", headers=auth)).json()
        if status["state"] in ("idle", "failed") and status["finished_at"]:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError(f"sync did not finish: {status}")


async def mark_queued(app: Litestar, account_id: str, job_id: str, queued_at: datetime) -> None:
    """As if a sync of the account had been queued as `job_id` at `queued_at`."""
    store = await app.state.dishka_container.get(MemoryStore)
    account = store.accounts[UUID(account_id)]
    sync = AccountSync(account.tenant_id, account.id)
    sync.queue(job_id, queued_at)
    store.syncs[account.id] = sync


async def test_a_requested_sync_runs_in_process_and_reports_its_folders(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    server = await app.state.dishka_container.get(FakeImapServer)
    server.deliver("INBOX", plain(Subject=b"hello"), Flags(seen=True))
    server.deliver("INBOX", plain(Subject=b"again", Message_ID=b"<2@example.com>"))
    server.deliver("Sent", plain(Subject=b"sent", Message_ID=b"<3@example.com>"))
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()

    before = (await client.get(f"/api/sync/status/{account['id']}", headers=auth)).json()
    assert (before["state"], before["folders"]) == ("idle", [])
    queued = await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    assert queued.status_code == 202
    assert queued.json()["status"] == "queued"

    status = await wait_for_idle(client, account["id"], auth)
    assert status["state"] == "idle"
    assert status["job_id"] == queued.json()["job_id"]
    assert status["progress"] == {"folders_done": 2, "folders_total": 2, "messages_fetched": 3, "messages_total": 3}
    folders = {f["name"]: f for f in status["folders"]}
    assert (folders["INBOX"]["role"], folders["INBOX"]["message_count"], folders["INBOX"]["unread_count"]) == (
        "inbox",
        2,
        1,
    )
    assert folders["Sent"]["role"] == "sent"
    assert folders["INBOX"]["uidvalidity"] is not None


async def test_a_second_request_while_queued_returns_the_same_job(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await mark_queued(app, account["id"], "job-in-flight", datetime.now(UTC))
    again = await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    assert again.json() == {"job_id": "job-in-flight", "status": "queued"}


async def test_sync_paths_of_unknown_or_foreign_accounts_are_404(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    acme, globex = await login(), await login(tenant="globex", email="eve@globex.test")
    account = (await client.post("/api/accounts", json=account_body(), headers=acme)).json()
    for method, path in (("POST", "/api/sync/imap/"), ("GET", "/api/sync/status/")):
        assert (await client.request(method, path + account["id"], headers=globex)).status_code == 404
        missing = "00000000-0000-7000-8000-000000000000"
        assert (await client.request(method, path + missing, headers=acme)).status_code == 404


async def test_a_sync_queued_long_ago_and_never_started_is_queued_again(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await mark_queued(app, account["id"], "lost-job", datetime.now(UTC) - timedelta(hours=1))
    again = (await client.post(f"/api/sync/imap/{account['id']}", headers=auth)).json()
    assert again["job_id"] != "lost-job"
    assert (await wait_for_idle(client, account["id"], auth))["job_id"] == again["job_id"]
