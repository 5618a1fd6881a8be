from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from application.users.register import NewUser, RegisterUser
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings

PASSWORD = "correct-horse-battery"
Login = Callable[..., Awaitable[dict[str, str]]]


def account_body(email: str = "alice@example.com", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Work",
        "email": email,
        "imap": {
            "host": "imap.example.com",
            "port": 993,
            "security": "ssl",
            "username": "alice",
            "password": "imap-pw",
        },
        "smtp": {
            "host": "smtp.example.com",
            "port": 465,
            "security": "ssl",
            "username": "alice",
            "password": "smtp-pw",
        },
    }
    return body | overrides


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    """Without inbox watches: a new account is watched within moments, and the watch's own sync would race the
    one a test asks for (test_inbox_watch.py runs them)."""
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_IDLE_ENABLED": "false"})
    return create_app(MemoryProvider(), settings=settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as client:
        yield client


@pytest.fixture
def login(app: Litestar, client: AsyncTestClient[Litestar]) -> Login:
    """Registers a user (and tenant) through the use case, logs in over HTTP, returns the auth header."""

    async def register(tenant: str, email: str) -> None:
        async with app.state.dishka_container() as container:
            await (await container.get(RegisterUser))(NewUser(tenant, email, PASSWORD))

    async def _login(tenant: str = "acme", email: str = "alice@acme.test") -> dict[str, str]:
        # In the app's own event loop (the client's portal): the container's lock belongs to the loop that first
        # waited on it, and the app's start-up tasks use it there.
        client.blocking_portal.call(register, tenant, email)
        answer = await client.post("/api/auth/login", json={"tenant": tenant, "email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    return _login
