import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.e2e.conftest import PASSWORD, Login

PROBLEM = "application/problem+json"


async def test_login_answers_an_access_token_and_a_refresh_token(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    await login()
    answer = await client.post(
        "/api/auth/login", json={"tenant": "acme", "email": "ALICE@acme.test", "password": PASSWORD}
    )
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 900)
    assert body["refresh_token"].startswith("mrr_")


@pytest.mark.parametrize(
    "credentials",
    [
        {"tenant": "acme", "email": "alice@acme.test", "password": "wrong-password"},
        {"tenant": "globex", "email": "alice@acme.test", "password": PASSWORD},
        {"tenant": "acme", "email": "mallory@acme.test", "password": PASSWORD},
    ],
)
async def test_bad_credentials_are_401_problems_that_reveal_nothing(
    client: AsyncTestClient[Litestar], login: Login, credentials: dict[str, str]
) -> None:
    await login()
    answer = await client.post("/api/auth/login", json=credentials)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["detail"] == "invalid tenant, email or password"


async def test_a_login_body_with_missing_or_extra_fields_is_422(client: AsyncTestClient[Litestar]) -> None:
    for body in (
        {"email": "a@b.test", "password": "x"},
        {"email": "a", "password": "b", "tenant": "c", "role": "admin"},
    ):
        answer = await client.post("/api/auth/login", json=body)
        assert answer.status_code == 422
        assert answer.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-token", "Basic YWxpY2U6cHc=", "bearer eyJhbGciOiJub25lIn0.e30."]
)
async def test_api_paths_need_a_valid_bearer_token(
    client: AsyncTestClient[Litestar], authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [("GET", "/api/accounts"), ("POST", "/api/accounts"), ("GET", "/api/me")]:
        answer = await client.request(method, path, headers=headers, json={} if method == "POST" else None)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["content-type"] == PROBLEM


async def test_x_tenant_id_must_match_the_token(client: AsyncTestClient[Litestar], login: Login) -> None:
    acme = await login()
    await login(tenant="globex", email="eve@globex.test")
    me = (await client.get("/api/me", headers=acme)).json()
    assert (await client.get("/api/accounts", headers={**acme, "X-Tenant-ID": me["tenant_id"]})).status_code == 200
    assert (await client.get("/api/accounts", headers={**acme, "X-Tenant-ID": "acme"})).status_code == 200
    forbidden = await client.get("/api/accounts", headers={**acme, "X-Tenant-ID": "globex"})
    assert forbidden.status_code == 403
    assert forbidden.json()["type"] == "urn:mailroom:problem:forbidden"


async def test_me_tells_who_the_token_belongs_to(client: AsyncTestClient[Litestar], login: Login) -> None:
    me = (await client.get("/api/me", headers=await login())).json()
    assert (me["role"], me["email"], me["credential"]) == ("admin", "alice@acme.test", "session")
    assert me["scopes"] == ["admin", "read", "send", "write"]
    assert set(me) == {"user_id", "tenant_id", "role", "email", "credential", "scopes"}
