"""The real SMTP adapter and the outbox against a fault-injecting SMTP server (aiosmtpd): each transaction
of the server follows a script, so retries, permanent failures, dropped connections and timeouts are exact."""

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from adapters.network import OutboundPolicy
from adapters.smtp.pool import ConnectionPool
from adapters.smtp.sender import SmtpMailSender
from application.accounts.commands import ServerLogin
from domain.accounts import Security
from domain.drafts import DraftStatus
from tests.unit.application.compose.test_outbox import SETTINGS, Outbox

TIMEOUT = 1.0


@dataclass
class FaultyServer:
    """What the server does at each DATA: `ok`, `421`, `550`, `drop` (closes the connection) or `slow` (answers
    after the client's timeout). Accepted messages and every connection are counted."""

    script: list[str] = field(default_factory=list)
    accepted: list[bytes] = field(default_factory=list)
    connections: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        action = self.script.pop(0) if self.script else "ok"
        if action == "421":
            return "421 4.3.2 System not accepting network messages"
        if action == "550":
            return "550 5.7.1 Message rejected as spam"
        if action == "drop":
            assert server.transport is not None
            server.transport.close()
            return "421 closing"
        if action == "slow":
            await asyncio.sleep(TIMEOUT * 3)
            return "451 4.3.0 too slow, not kept"
        assert isinstance(envelope.content, bytes)
        self.accepted.append(envelope.content)
        return "250 2.0.0 Ok: queued as FAULTY"

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        self.connections += 1
        session.host_name = hostname
        return responses


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def faulty() -> Iterator[tuple[FaultyServer, int]]:
    handler, port = FaultyServer(), _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=lambda *_: AuthResult(success=True),
        auth_require_tls=False,
    )
    controller.start()
    yield handler, port
    controller.stop()


async def outbox_on(port: int) -> tuple[Outbox, SmtpMailSender]:
    sender = SmtpMailSender(OutboundPolicy(allow_private=True, timeout=TIMEOUT), ConnectionPool())
    outbox = Outbox(sender=sender, settings=replace(SETTINGS, max_attempts=4))
    login = ServerLogin("127.0.0.1", port, Security.NONE, "alice", "smtp-secret")
    outbox.account_id = await outbox.account(smtp=login)
    return outbox, sender


async def send(outbox: Outbox) -> tuple[DraftStatus | None, Any]:
    draft_id = await outbox.draft(subject="Grüße", text="hello")
    await outbox.queue_send()(outbox.user, draft_id)
    status = await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker")
    async with outbox.fakes.uow as uow:
        return status, await uow.drafts.get(outbox.user.tenant_id, draft_id)


@pytest.mark.parametrize("fault", ["421", "drop", "slow"])
async def test_a_temporary_fault_is_retried_and_the_message_arrives_once(
    faulty: tuple[FaultyServer, int], fault: str
) -> None:
    server, port = faulty
    server.script = [fault]
    outbox, sender = await outbox_on(port)
    status, draft = await send(outbox)
    await sender.close()
    assert status is DraftStatus.SENT
    assert draft.attempts == 2
    assert draft.last_smtp_reply == "250 2.0.0 Ok: queued as FAULTY"
    assert len(server.accepted) == 1
    assert b"Message-ID: " + draft.outgoing.message_id.encode() in server.accepted[0]


async def test_a_permanent_refusal_fails_at_once_and_keeps_the_servers_reply(faulty: tuple[FaultyServer, int]) -> None:
    server, port = faulty
    server.script = ["550"]
    outbox, sender = await outbox_on(port)
    status, draft = await send(outbox)
    await sender.close()
    assert status is DraftStatus.FAILED
    assert draft.attempts == 1
    assert draft.last_smtp_reply == "550 5.7.1 Message rejected as spam"
    assert server.accepted == []
    assert server.script == []


async def test_a_server_that_keeps_failing_runs_out_of_attempts(faulty: tuple[FaultyServer, int]) -> None:
    server, port = faulty
    server.script = ["421"] * 10
    outbox, sender = await outbox_on(port)
    start = outbox.fakes.clock.now()
    status, draft = await send(outbox)
    await sender.close()
    assert status is DraftStatus.FAILED
    assert draft.attempts == 4
    assert outbox.fakes.clock.now() - start == timedelta(seconds=10 + 20 + 40)
    assert draft.last_smtp_reply.startswith("421 4.3.2")
    assert len(server.script) == 6


async def test_sends_to_one_login_reuse_the_connection(faulty: tuple[FaultyServer, int]) -> None:
    server, port = faulty
    outbox, sender = await outbox_on(port)
    for _ in range(5):
        status, _ = await send(outbox)
        assert status is DraftStatus.SENT
    await sender.close()
    assert len(server.accepted) == 5
    assert server.connections == 1
