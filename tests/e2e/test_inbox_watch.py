"""New mail reaches the store through the inbox watch, with no sync requested by anyone."""

import asyncio
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from application.users.register import NewUser, RegisterUser
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.conftest import PASSWORD, account_body
from tests.unit.mail_corpus import plain


async def inbox_count(client: AsyncTestClient[Litestar], account_id: str, auth: dict[str, str]) -> int:
    folders = (await client.get(f"/api/sync/status/{account_id}", headers=auth)).json()["folders"]
    return next((f["message_count"] for f in folders if f["name"] == "INBOX"), -1)


@pytest.mark.parametrize("refresh", ["0.05", "3600"], ids=["list-read-often", "list-read-hourly"])
async def test_new_mail_is_synced_by_the_inbox_watch_within_seconds(tmp_path: Path, refresh: str) -> None:
    """However seldom the watch list is read again, an account is watched as soon as it is created."""
    settings = load_settings(
        {
            "MAILROOM_DATA_DIR": str(tmp_path),
            "MAILROOM_IDLE_REFRESH_SECONDS": refresh,
            "MAILROOM_WATCH_LEASE_SECONDS": str(float(refresh) * 3),
        }
    )
    app = create_app(MemoryProvider(), settings=settings)
    async with AsyncTestClient(app) as client:
        async with app.state.dishka_container() as container:
            await (await container.get(RegisterUser))(NewUser("acme", "a@acme.test", PASSWORD))
        login = {"tenant": "acme", "email": "a@acme.test", "password": PASSWORD}
        auth = {"Authorization": f"Bearer {(await client.post('/api/auth/login', json=login)).json()['access_token']}"}
        server = await app.state.dishka_container.get(FakeImapServer)
        server.deliver("INBOX", plain(Subject=b"before"))
        account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()

        async def wait_for(count: int) -> float:
            started = asyncio.get_running_loop().time()
            while await inbox_count(client, account["id"], auth) != count:
                assert asyncio.get_running_loop().time() - started < 5, "not synced within 5 s"
                await asyncio.sleep(0.02)
            return asyncio.get_running_loop().time() - started

        await wait_for(1)
        server.deliver("INBOX", plain(Subject=b"after", Message_ID=b"<after@example.com>"))
        await wait_for(2)
