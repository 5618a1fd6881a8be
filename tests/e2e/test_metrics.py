"""Prometheus metrics at /metrics: HTTP requests by route template and status with latency, syncs and messages
synced, sends by outcome. Counters are process-wide, so the tests compare before and after."""

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from adapters.memory.mail import ScriptedMailServers
from application.backlog import Backlog, ReadBacklog
from entrypoints.http.controllers import metrics as metrics_controller
from tests.e2e.conftest import Login, account_body
from tests.e2e.test_compose_api import shown_when
from tests.e2e.test_sync_api import wait_for_idle
from tests.unit import mail_corpus


def value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_requests_syncs_and_sends_are_counted(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    before = (await client.get("/metrics")).text
    server = await app.state.dishka_container.get(FakeImapServer)
    server.deliver("INBOX", mail_corpus.plain(Subject=b"counted"))
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await client.get(f"/api/accounts/{account['id']}", headers=auth)
    await client.get("/api/accounts/01a2131b-0000-7000-8000-000000000000", headers=auth)
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    await wait_for_idle(client, account["id"], auth)

    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    after = answer.text
    route = 'app_name="mailroom",method="GET",path="/api/accounts/{account_id}"'
    for status in ("200", "404"):
        sample = f'mailroom_http_requests_total{{{route},status_code="{status}"}}'
        assert value(after, sample) == value(before, sample) + 1, sample
    assert 'le="0.005",method="GET",path="/api/accounts/{account_id}",status_code="200"}' in after
    assert (
        value(after, 'mailroom_sync_runs_total{outcome="idle"}')
        >= value(before, 'mailroom_sync_runs_total{outcome="idle"}') + 1
    )
    assert value(after, "mailroom_messages_synced_total") >= value(before, "mailroom_messages_synced_total") + 1
    assert "/metrics" not in re.findall(r'path="([^"]+)"', after)

    (await app.state.dishka_container.get(ScriptedMailServers)).accept("smtp.example.com", "alice", "smtp-pw")
    draft = (
        await client.post("/api/compose", json={"account_id": account["id"], "to": ["b@example.org"]}, headers=auth)
    ).json()
    await client.post(f"/api/compose/{draft['id']}/send", headers=auth)
    await shown_when(client, draft["id"], auth, "sent")
    sent = 'mailroom_sends_total{outcome="sent"}'
    assert value((await client.get("/metrics")).text, sent) == value(after, sent) + 1


async def test_scrapes_in_quick_succession_count_the_backlog_once(
    client: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    """/metrics takes no credentials: asking it again and again must not make the database count again and again."""
    monkeypatch.setattr(metrics_controller, "_last", metrics_controller._Reading())
    reads: list[None] = []
    read = ReadBacklog.__call__

    async def counted(self: ReadBacklog) -> Backlog:
        reads.append(None)
        return await read(self)

    monkeypatch.setattr(ReadBacklog, "__call__", counted)
    for _ in range(5):
        answer = await client.get("/metrics")
        assert "mailroom_webhook_deliveries_due" in answer.text
    assert len(reads) == 1
