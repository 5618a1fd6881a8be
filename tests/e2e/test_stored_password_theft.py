"""A stored mail password is only ever sent to the server it was entered for (audit finding: changing the host of
an account with `?verify=true` and no password used to send the stored password to the new host)."""

import asyncio
import base64
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from dishka import Provider, Scope, provide
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.imap.login_check import AioimaplibLoginCheck
from adapters.network import OutboundPolicy
from adapters.smtp.pool import ConnectionPool
from adapters.smtp.sender import SmtpMailSender
from domain.ports.mail import ImapLoginCheck, MailSender
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.conftest import PASSWORD, account_body

PROBLEM = "application/problem+json"


class Recorder:
    """A loopback server that greets like IMAP or SMTP, refuses every login and keeps every byte it was sent.

    It runs on a thread of its own: the test client serves the app from another event loop."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.received = bytearray()
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> int:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop)
        self._server = started.result(5)
        return int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"* OK IMAP4rev1 ready\r\n" if self.protocol == "imap" else b"220 recorder ESMTP\r\n")
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                self.received += line
                writer.write(self._answer(line))
                await writer.drain()
        writer.close()

    def _answer(self, line: bytes) -> bytes:
        if self.protocol == "imap":
            tag, _, command = line.decode(errors="replace").partition(" ")
            if command.upper().startswith("CAPABILITY"):
                return f"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n".encode()
            return f"{tag} NO [AUTHENTICATIONFAILED] no\r\n".encode()
        word = line.split(b" ", 1)[0].strip().upper()
        if word in (b"EHLO", b"HELO"):
            return b"250-recorder\r\n250 AUTH PLAIN LOGIN\r\n"
        return b"535 5.7.8 no\r\n"

    def saw(self, secret: str) -> bool:
        encoded = base64.b64encode(f"\0alice\0{secret}".encode())
        return secret.encode() in self.received or encoded in self.received


class RealMailAdapters(Provider):
    """The real IMAP and SMTP adapters, loopback allowed, on top of the in-memory store."""

    scope = Scope.APP

    @provide(override=True)
    def imap_login_check(self) -> ImapLoginCheck:
        return AioimaplibLoginCheck(OutboundPolicy(allow_private=True, timeout=5))

    @provide(override=True)
    async def sender(self) -> AsyncIterator[MailSender]:
        sender = SmtpMailSender(OutboundPolicy(allow_private=True, timeout=5), ConnectionPool(per_login=1))
        yield sender
        await sender.close()


@pytest.fixture
def recorders() -> Iterator[dict[str, tuple[Recorder, int]]]:
    found = {}
    for protocol in ("imap", "smtp"):
        recorder = Recorder(protocol)
        found[protocol] = (recorder, recorder.start())
    yield found
    for recorder, _ in found.values():
        recorder.stop()


@pytest.fixture
async def real_client(tmp_path: Path) -> AsyncIterator[tuple[Litestar, AsyncTestClient[Litestar]]]:
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path)})
    app = create_app(MemoryProvider(), RealMailAdapters(), settings=settings)
    async with AsyncTestClient(app) as client:
        yield app, client


async def _account(app: Litestar, client: AsyncTestClient[Litestar]) -> tuple[dict[str, str], dict[str, Any]]:
    from application.users.register import NewUser, RegisterUser

    async with app.state.dishka_container() as container:
        await (await container.get(RegisterUser))(NewUser("acme", "alice@acme.test", PASSWORD))
    token = await client.post(
        "/api/auth/login", json={"tenant": "acme", "email": "alice@acme.test", "password": PASSWORD}
    )
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    created = await client.post("/api/accounts", json=account_body(), headers=auth)
    assert created.status_code == 201, created.text
    return auth, created.json()


@pytest.mark.parametrize("protocol", ["imap", "smtp"])
@pytest.mark.parametrize("method", ["patch", "put"])
async def test_a_new_server_without_the_password_is_refused_and_hears_nothing(
    real_client: tuple[Litestar, AsyncTestClient[Litestar]],
    recorders: dict[str, tuple[Recorder, int]],
    protocol: str,
    method: str,
) -> None:
    app, client = real_client
    auth, account = await _account(app, client)
    recorder, port = recorders[protocol]
    hostile = {"host": "127.0.0.1", "port": port, "security": "none"}
    if method == "patch":
        body: dict[str, Any] = {protocol: hostile}
    else:
        body = account_body()
        for server in ("imap", "smtp"):
            del body[server]["password"]
        body[protocol] |= hostile
    answer = await client.request(
        method.upper(), f"/api/accounts/{account['id']}", params={"verify": "true"}, json=body, headers=auth
    )
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM), answer.text
    assert f"{protocol}.password" in [e["field"] for e in answer.json()["errors"]]
    assert not recorder.saw(f"{protocol}-pw")
    assert recorder.connections == 0
    assert (await client.get(f"/api/accounts/{account['id']}", headers=auth)).json() == account


@pytest.mark.parametrize("field", ["host", "port", "security", "username"])
async def test_each_identifying_field_needs_the_password_again(
    real_client: tuple[Litestar, AsyncTestClient[Litestar]], field: str
) -> None:
    app, client = real_client
    auth, account = await _account(app, client)
    change = {"host": "imap.other.example", "port": 143, "security": "starttls", "username": "mallory"}[field]
    answer = await client.patch(f"/api/accounts/{account['id']}", json={"imap": {field: change}}, headers=auth)
    assert answer.status_code == 422, answer.text
    with_password = {"imap": {field: change, "password": "new-imap-pw"}}
    answer = await client.patch(f"/api/accounts/{account['id']}", json=with_password, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["imap"][field] == change


async def test_the_password_given_with_the_new_server_is_the_one_sent(
    real_client: tuple[Litestar, AsyncTestClient[Litestar]], recorders: dict[str, tuple[Recorder, int]]
) -> None:
    app, client = real_client
    auth, account = await _account(app, client)
    recorder, port = recorders["imap"]
    body = {"imap": {"host": "127.0.0.1", "port": port, "security": "none", "password": "typed-again"}}
    answer = await client.patch(f"/api/accounts/{account['id']}", params={"verify": "true"}, json=body, headers=auth)
    assert answer.status_code == 422, answer.text  # the recorder refuses every login
    assert recorder.saw("typed-again")
    assert not recorder.saw("imap-pw")


async def test_unchanged_servers_keep_their_passwords(
    real_client: tuple[Litestar, AsyncTestClient[Litestar]],
) -> None:
    app, client = real_client
    auth, account = await _account(app, client)
    answer = await client.patch(f"/api/accounts/{account['id']}", json={"name": "Renamed"}, headers=auth)
    assert answer.status_code == 200, answer.text
    same_server = {"imap": {"host": account["imap"]["host"], "port": account["imap"]["port"]}}
    answer = await client.patch(f"/api/accounts/{account['id']}", json=same_server, headers=auth)
    assert answer.status_code == 200, answer.text
