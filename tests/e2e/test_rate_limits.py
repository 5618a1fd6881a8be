"""Rate limits as a client meets them: per user on the API (60 a minute by default); on login, failed attempts
per client address (5 a minute, 30 an hour) and per account (tenant and email). Refusals are 429 problems carrying
Retry-After and RateLimit-* headers. A client that guesses is stopped; the user it guesses at can still log in."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from dishka import Provider, Scope, provide
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.runtime import ManualClock
from domain.ports.runtime import Clock
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.conftest import PASSWORD, Login

LOGIN = "/api/auth/login"
ALICE = {"tenant": "acme", "email": "alice@acme.test", "password": PASSWORD}
WRONG = ALICE | {"password": "guess"}
ATTACKER, VICTIM = "203.0.113.7", "198.51.100.20"


class PinnedClock(Provider):
    """Time stands still, so no window of a limit resets in the middle of a test that counts."""

    @provide(scope=Scope.APP, override=True)
    def clock(self) -> Clock:
        return ManualClock(datetime.now(UTC))


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    return create_app(MemoryProvider(), PinnedClock(), settings=load_settings({"MAILROOM_DATA_DIR": str(tmp_path)}))


@asynccontextmanager
async def peer(app: Litestar, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client connecting from `address` (the app must be started, e.g. by the `client` fixture)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_61st_request_in_a_minute_is_refused_with_retry_after(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    remaining = []
    for _ in range(60):
        answer = await client.get("/api/me", headers=auth)
        assert answer.status_code == 200
        remaining.append(int(answer.headers["ratelimit-remaining"]))
    assert remaining == list(range(59, -1, -1))
    assert answer.headers["ratelimit-limit"] == "60"
    assert answer.headers["ratelimit-policy"] == "60;w=60, 1000;w=3600"

    refused = await client.get("/api/accounts", headers=auth)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.json()["type"] == "urn:mailroom:problem:too-many-requests"

    other = await login(tenant="globex", email="eve@globex.test")
    assert (await client.get("/api/me", headers=other)).status_code == 200
    for _ in range(70):
        assert (await client.get("/health")).status_code == 200


async def test_a_client_that_failed_five_times_is_refused_even_the_right_password(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    await login()  # a successful login is not counted
    answers = [await client.post(LOGIN, json=WRONG) for _ in range(5)]
    assert [a.status_code for a in answers] == [401] * 5
    right = await client.post(LOGIN, json=ALICE)
    assert right.status_code == 429
    assert right.json()["detail"] == "too many failed logins"
    assert 1 <= int(right.headers["retry-after"]) <= 60
    elsewhere = await client.post(LOGIN, json=WRONG | {"email": "bob@acme.test"})
    assert elsewhere.status_code == 429  # this address is out of attempts on every account


async def test_successful_logins_are_not_counted(client: AsyncTestClient[Litestar], login: Login) -> None:
    await login()
    assert [(await client.post(LOGIN, json=ALICE)).status_code for _ in range(10)] == [200] * 10


async def test_wrong_passwords_from_elsewhere_do_not_lock_the_user_out(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    await login()
    async with peer(app, ATTACKER) as attacker, peer(app, VICTIM) as victim:
        codes = [(await attacker.post(LOGIN, json=WRONG)).status_code for _ in range(40)]
        assert codes == [401] * 5 + [429] * 35
        assert (await attacker.post(LOGIN, json=ALICE)).status_code == 429
        assert (await victim.post(LOGIN, json=ALICE)).status_code == 200


async def test_guesses_at_one_account_are_bounded_however_many_addresses_guess(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    """Past 5 failures in a minute the account is under attack: an address that has failed on it twice may not try
    it again, so each further address gets two guesses, and none gets a right guess through after its second."""
    await login()
    guessed = 0
    for n in range(1, 21):
        async with peer(app, f"203.0.113.{n}") as attacker:
            codes = [(await attacker.post(LOGIN, json=WRONG)).status_code for _ in range(5)]
            guessed += codes.count(401)
            assert set(codes) <= {401, 429}
    assert guessed == 5 + 19 * 2
    async with peer(app, "203.0.113.20") as attacker, peer(app, VICTIM) as victim:
        assert (await attacker.post(LOGIN, json=ALICE)).status_code == 429
        assert (await victim.post(LOGIN, json=WRONG)).status_code == 401  # a typo of the user's own
        assert (await victim.post(LOGIN, json=ALICE)).status_code == 200


async def test_failures_through_a_tenant_that_does_not_exist_leave_the_real_one_alone(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    await login()
    async with peer(app, ATTACKER) as attacker, peer(app, VICTIM) as victim:
        for _ in range(20):
            await attacker.post(LOGIN, json=WRONG | {"tenant": "acme-typo"})
        assert (await victim.post(LOGIN, json=ALICE)).status_code == 200


async def test_an_ipv6_client_is_counted_by_its_64_network(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    """A host picks any address of its /64 (RFC 8981): counting single addresses would give it 2^64 budgets."""
    await login()
    codes = []
    for n in range(1, 8):
        async with peer(app, f"2001:db8:1:2::{n:x}") as attacker:
            codes.append((await attacker.post(LOGIN, json=WRONG | {"email": f"u{n}@acme.test"})).status_code)
    assert codes == [401] * 5 + [429] * 2
    async with peer(app, "2001:db8:1:3::1") as neighbour:
        assert (await neighbour.post(LOGIN, json=ALICE)).status_code == 200
