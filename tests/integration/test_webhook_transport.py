"""The webhook transport over real sockets on loopback: a small aiohttp receiver records what arrives and answers
scripted statuses; names are resolved by a scripted DNS, so nothing leaves the machine."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from aiohttp import web
from litestar.serialization import encode_json
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from adapters.network import OutboundPolicy, Resolver
from adapters.webhooks.transport import AiohttpWebhookTransport
from domain.changes import Change, ChangeType, LoggedChange, change_document
from domain.ids import new_id
from domain.webhooks import new_secret

SECRET = new_secret()
HOST = "hooks.attacker.example"


@dataclass
class Receiver:
    """`statuses[path]` is what a POST to `path` gets (200 if unset); 302 sends it on to /landed."""

    port: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append((request.path, headers, await request.read()))
        status = self.statuses.get(request.path, 200)
        if status == 302:
            return web.Response(status=302, headers={"location": self.url("/landed")})
        return web.Response(status=status, text="thanks")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = int(runner.addresses[0][1])
    yield state
    await runner.cleanup()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server that takes the request and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


@pytest.fixture
async def transports() -> AsyncIterator[Callable[..., AiohttpWebhookTransport]]:
    made: list[AiohttpWebhookTransport] = []

    def make(policy: OutboundPolicy, timeout: float = 5.0) -> AiohttpWebhookTransport:
        made.append(AiohttpWebhookTransport(policy, timeout=timeout))
        return made[-1]

    yield make
    for transport in made:
        await transport.close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scripted_dns(answers: dict[str, Sequence[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(answers[host])

    return resolve


def an_event() -> LoggedChange:
    data = {"x": 1, "message": {"id": new_id(), "date": datetime(2024, 5, 1, 9, 30, tzinfo=UTC)}}
    return LoggedChange(7, Change(new_id(), ChangeType.MESSAGE_CREATED, uuid4(), uuid4(), datetime.now(UTC), data))


LOOPBACK = OutboundPolicy(allow_private=True)


async def test_an_event_arrives_as_the_api_shows_it_signed_as_standard_webhooks(
    receiver: Receiver, transports: Callable[..., AiohttpWebhookTransport]
) -> None:
    event, at = an_event(), datetime.now(UTC)

    outcome = await transports(LOOPBACK).deliver(receiver.url(), SECRET, event, at)

    assert (outcome.status_code, outcome.error, outcome.succeeded) == (200, None, True)
    [(path, headers, body)] = receiver.requests
    assert path == "/hooks"
    assert json.loads(body) == json.loads(encode_json(change_document(event)))
    assert json.loads(body)["id"] == str(event.change.id)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Mailroom-Webhooks/1"
    assert headers["webhook-id"] == str(event.change.id)
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b'"x":1', b'"x":2'), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


@pytest.mark.parametrize("status", [200, 500, 410])
async def test_the_receivers_status_comes_back(
    receiver: Receiver, transports: Callable[..., AiohttpWebhookTransport], status: int
) -> None:
    receiver.statuses["/hooks"] = status

    outcome = await transports(LOOPBACK).deliver(receiver.url(), SECRET, an_event(), datetime.now(UTC))

    assert (outcome.status_code, outcome.error) == (status, None)
    assert outcome.succeeded is (status == 200)
    assert outcome.gone is (status == 410)


async def test_a_redirect_is_not_followed(
    receiver: Receiver, transports: Callable[..., AiohttpWebhookTransport]
) -> None:
    receiver.statuses["/hooks"] = 302

    outcome = await transports(LOOPBACK).deliver(receiver.url(), SECRET, an_event(), datetime.now(UTC))

    assert outcome.status_code == 302
    assert not outcome.succeeded
    assert [path for path, _, _ in receiver.requests] == ["/hooks"]


async def test_a_receiver_that_never_answers_times_out(
    silent_port: int, transports: Callable[..., AiohttpWebhookTransport]
) -> None:
    url = f"http://127.0.0.1:{silent_port}/hooks"

    outcome = await transports(LOOPBACK, timeout=0.5).deliver(url, SECRET, an_event(), datetime.now(UTC))

    assert outcome.status_code is None
    assert outcome.error == "timed out after 0.5 s"


async def test_an_answer_whose_body_stalls_still_counts(transports: Callable[..., AiohttpWebhookTransport]) -> None:
    async def answer_then_stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nabc")
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(answer_then_stall, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks"
    try:
        outcome = await transports(LOOPBACK, timeout=0.5).deliver(url, SECRET, an_event(), datetime.now(UTC))
    finally:
        server.close()

    assert (outcome.status_code, outcome.succeeded) == (200, True)


async def test_a_closed_port_is_an_error_not_an_exception(
    closed_port: int, transports: Callable[..., AiohttpWebhookTransport]
) -> None:
    url = f"http://127.0.0.1:{closed_port}/hooks"

    outcome = await transports(LOOPBACK).deliver(url, SECRET, an_event(), datetime.now(UTC))

    assert outcome.status_code is None
    assert outcome.error == "connection refused"


async def test_a_name_that_does_not_resolve_is_an_error(transports: Callable[..., AiohttpWebhookTransport]) -> None:
    policy = OutboundPolicy(allow_private=True, resolver=scripted_dns({}))

    outcome = await transports(policy).deliver(f"http://{HOST}/hooks", SECRET, an_event(), datetime.now(UTC))

    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith(f"cannot resolve {HOST}")


@pytest.mark.parametrize(
    ("host", "answers"),
    [
        ("127.0.0.1", []),
        ("[::1]", []),
        ("[::ffff:127.0.0.1]", []),
        ("2130706433", []),
        ("127.1", []),
        (HOST, ["127.0.0.1"]),
        (HOST, ["169.254.169.254"]),
        (HOST, ["93.184.215.14", "127.0.0.1"]),
    ],
    ids=[
        "loopback",
        "ipv6-loopback",
        "ipv4-mapped",
        "decimal",
        "short-form",
        "name-to-loopback",
        "name-to-metadata",
        "name-to-public-and-loopback",
    ],
)
async def test_a_non_public_receiver_is_refused_before_any_request(
    receiver: Receiver, transports: Callable[..., AiohttpWebhookTransport], host: str, answers: list[str]
) -> None:
    policy = OutboundPolicy(allow_private=False, resolver=scripted_dns({HOST: answers}))

    outcome = await transports(policy).deliver(receiver.url(host=host), SECRET, an_event(), datetime.now(UTC))

    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused: ")
    assert SECRET not in outcome.error
    assert SECRET.removeprefix("whsec_") not in outcome.error
    assert receiver.requests == []


async def test_private_receivers_are_reached_where_allowed_at_the_address_the_resolver_gave(
    receiver: Receiver, transports: Callable[..., AiohttpWebhookTransport]
) -> None:
    policy = OutboundPolicy(allow_private=True, resolver=scripted_dns({HOST: ["127.0.0.1"]}))

    outcome = await transports(policy).deliver(receiver.url(host=HOST), SECRET, an_event(), datetime.now(UTC))

    assert outcome.status_code == 200
    [(_, headers, _)] = receiver.requests
    assert headers["host"] == f"{HOST}:{receiver.port}"
