"""Rate limits as a client meets them: per user on the API (60 a minute by default), per client address and per
email on login (5 a minute), answered with 429 problems carrying Retry-After and RateLimit-* headers."""

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.e2e.conftest import PASSWORD, Login


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


async def test_login_guessing_is_stopped_per_email_and_per_client(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    await login()  # the first of five attempts this minute
    body = {"tenant": "acme", "email": "alice@acme.test", "password": "guess"}
    answers = [await client.post("/api/auth/login", json=body) for _ in range(4)]
    assert [a.status_code for a in answers] == [401] * 4
    right = await client.post("/api/auth/login", json=body | {"password": PASSWORD})
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) >= 1
    elsewhere = await client.post("/api/auth/login", json=body | {"email": "bob@acme.test"})
    assert elsewhere.status_code == 429  # the same client address is out of attempts too
