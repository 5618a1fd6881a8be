"""Malformed input an attacker can send answers a 4xx problem, never a 500, and changes nothing."""

import base64
import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.e2e.conftest import Login, account_body

PROBLEM = "application/problem+json"


def _cursor(body: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/api/accounts", "/api/auth/login", "/api/compose"])
@pytest.mark.parametrize("shape", ["array", "object"])
async def test_json_nested_100000_deep_is_a_4xx(
    client: AsyncTestClient[Litestar], login: Login, path: str, shape: str
) -> None:
    auth = await login()
    depth = 100_000
    body = "[" * depth + "]" * depth if shape == "array" else '{"a":' * depth + "1" + "}" * depth
    answer = await client.post(path, content=body, headers={**auth, "content-type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 0


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor([None, "2024-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]),
        _cursor([float("inf"), "2024-01-01T00:00:00+00:00", "00000000-0000-0000-0000-000000000000"]),
        _cursor([float("nan"), "2024-01-01T00:00:00+00:00", "00000000-0000-0000-0000-000000000000"]),
        base64.urlsafe_b64encode(b"[" * 5000).decode(),
        "A" * 10_000,
        _cursor([None, "0001-01-01T00:00:00+14:00", "00000000-0000-0000-0000-000000000000"]),
    ],
    ids=["no-time-zone", "infinite-score", "nan-score", "deeply-nested", "very-long", "before-year-1-in-utc"],
)
@pytest.mark.parametrize("text", [None, "hello"])
async def test_a_forged_cursor_is_a_422_naming_it(
    client: AsyncTestClient[Litestar], login: Login, cursor: str, text: str | None
) -> None:
    auth = await login()
    params = {"cursor": cursor} | ({"q": text} if text else {})
    answer = await client.get("/api/sync/search", params=params, headers=auth)
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM), answer.text
    assert "cursor" in [e["field"] for e in answer.json()["errors"]]


@pytest.mark.parametrize("server", ["imap", "smtp"])
@pytest.mark.parametrize("password", ["pw\r\nA1 LOGOUT", "pw\nx", "pw\x00alice\x00pw"])
async def test_a_mail_password_with_cr_lf_or_nul_is_a_422_at_creation_and_update(
    client: AsyncTestClient[Litestar], login: Login, server: str, password: str
) -> None:
    auth = await login()
    body = account_body()
    body[server]["password"] = password
    answer = await client.post("/api/accounts", json=body, headers=auth)
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM), answer.text
    assert f"{server}.password" in [e["field"] for e in answer.json()["errors"]]
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    answer = await client.patch(f"/api/accounts/{account['id']}", json={server: {"password": password}}, headers=auth)
    assert answer.status_code == 422, answer.text
    assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 1


@pytest.mark.parametrize(
    ("bound", "moment"), [("since", "0001-01-01T00:00:00+14:00"), ("before", "9999-12-31T23:59:59-14:00")]
)
async def test_a_search_date_outside_what_utc_can_hold_is_a_422(
    client: AsyncTestClient[Litestar], login: Login, bound: str, moment: str
) -> None:
    auth = await login()
    answer = await client.get("/api/sync/search", params={bound: moment}, headers=auth)
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM), answer.text
    assert bound in [e["field"] for e in answer.json()["errors"]]
