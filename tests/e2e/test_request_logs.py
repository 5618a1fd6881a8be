"""Request ids: taken from X-Request-ID (when plain) or made up, echoed, written on the access line, and carried
into the jobs a request queues. The JSON formatter puts them on every line."""

import json
import logging

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.logs import JsonFormatter
from tests.e2e.conftest import Login, account_body
from tests.e2e.test_metrics import value
from tests.e2e.test_sync_api import wait_for_idle


def lines(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == name]


async def test_the_request_id_is_echoed_and_on_the_access_line(
    client: AsyncTestClient[Litestar], login: Login, caplog: pytest.LogCaptureFixture
) -> None:
    auth = await login()
    caplog.set_level(logging.INFO)
    answer = await client.get("/api/accounts", headers=auth | {"X-Request-ID": "req-7f3a"})
    assert answer.headers["x-request-id"] == "req-7f3a"
    [access] = [line for line in lines(caplog, "mailroom.access") if line["request_id"] == "req-7f3a"]
    assert access["route"] == "/api/accounts"
    assert access["method"] == "GET"
    assert access["status"] == 200
    assert access["tenant"] is not None
    assert isinstance(access["duration_ms"], float)


async def test_a_forged_request_id_is_replaced(client: AsyncTestClient[Litestar]) -> None:
    answer = await client.get("/health", headers={"X-Request-ID": 'x" injected="1'})
    assert answer.headers["x-request-id"] != 'x" injected="1'
    assert len(answer.headers["x-request-id"]) == 32


async def test_jobs_queued_by_a_request_log_under_its_id(
    client: AsyncTestClient[Litestar], login: Login, caplog: pytest.LogCaptureFixture
) -> None:
    auth = await login()
    caplog.set_level(logging.INFO)
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth | {"X-Request-ID": "sync-req-1"})
    await wait_for_idle(client, account["id"], auth)
    jobs = [line for line in lines(caplog, "mailroom.jobs") if line.get("task") == "sync_account"]
    assert [line["request_id"] for line in jobs] == ["sync-req-1"]
    assert [r.request_id for r in caplog.records if r.name == "mailroom.worker"] == ["sync-req-1"]  # type: ignore[attr-defined]


async def test_a_request_refused_by_authentication_is_logged_and_counted_as_refused(
    client: AsyncTestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    sample = 'mailroom_http_requests_total{app_name="mailroom",method="GET",path="/api/accounts",status_code="401"}'
    before = value((await client.get("/metrics")).text, sample)
    caplog.set_level(logging.INFO)
    answer = await client.get("/api/accounts", headers={"X-Request-ID": "no-token-1"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["x-request-id"] == "no-token-1"
    [access] = [line for line in lines(caplog, "mailroom.access") if line["request_id"] == "no-token-1"]
    assert access["status"] == 401
    assert value((await client.get("/metrics")).text, sample) == before + 1
