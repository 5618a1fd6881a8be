"""The SSRF guard on user-supplied IMAP and SMTP hosts, through the real adapters: the system resolver is replaced
by a scripted DNS (an attacker's name server answers what it likes, and differently each time), and every dial is
recorded; only loopback dials go through, so nothing leaves the machine."""

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.imap.login_check import AioimaplibLoginCheck
from adapters.network import OutboundPolicy
from adapters.smtp.sender import SmtpMailSender
from domain.accounts import MailLogin, Security, ServerSettings
from domain.errors import MailServerRejected

HOST = "mail.attacker.example"
PUBLIC = "93.184.215.14"


@dataclass
class Network:
    """`answers[host]` holds one answer per lookup (the last one repeats); `dialled` every address connected to;
    `reached` every connection the loopback listener on `port` accepted."""

    port: int
    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: int = 0
    dialled: list[str] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)

    def answer(self, host: str) -> list[str]:
        self.lookups += 1
        rounds = self.answers[host]
        return rounds.pop(0) if len(rounds) > 1 else rounds[0]


@pytest.fixture
async def network(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Network]:
    loop = asyncio.get_running_loop()
    real_getaddrinfo, real_connect = loop.getaddrinfo, loop.sock_connect

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.reached.append(writer.get_extra_info("peername")[0])
        writer.close()

    listener = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    state = Network(port=listener.sockets[0].getsockname()[1])

    async def getaddrinfo(host: str, port: Any, **kwargs: Any) -> list[Any]:
        if host not in state.answers:
            return await real_getaddrinfo(host, port, **kwargs)
        return [_addrinfo(address, int(port)) for address in state.answer(host)]

    async def sock_connect(sock: socket.socket, address: tuple[Any, ...]) -> None:
        state.dialled.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError(f"the test network does not route to {address[0]}")
        await real_connect(sock, address)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(loop, "sock_connect", sock_connect)
    yield state
    listener.close()
    await listener.wait_closed()


def _addrinfo(address: str, port: int) -> tuple[Any, ...]:
    if ipaddress.ip_address(address).version == 6:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


def _login(network: Network) -> Callable[[str], Awaitable[None]]:
    """A login check on `HOST` through the named adapter (`imap` or `smtp`), with the production policy."""
    server = ServerSettings(HOST, network.port, Security.NONE, "victim@example.com")
    policy = OutboundPolicy(allow_private=False, timeout=2.0)

    async def check(protocol: str) -> None:
        if protocol == "imap":
            await AioimaplibLoginCheck(policy).verify_login(server, MailLogin("stored-secret"))
        else:
            await SmtpMailSender(policy).verify_login(server, MailLogin("stored-secret"))

    return check


@pytest.mark.parametrize("protocol", ["imap", "smtp"])
async def test_a_name_that_rebinds_to_loopback_after_the_check_is_not_followed(network: Network, protocol: str) -> None:
    network.answers[HOST] = [[PUBLIC], ["127.0.0.1"]]
    with pytest.raises(MailServerRejected):
        await _login(network)(protocol)
    assert network.reached == []
    assert network.dialled == [PUBLIC]
    assert network.lookups == 1


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 well-known prefix (RFC 6052) of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata service
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64 prefix (RFC 8215): the translator decides what it reaches
        "64:ff9b:1:808:8:800::",  # local-use NAT64, even with a public IPv4 inside
        "2002:7f00:1::1",  # 6to4 (RFC 3056) of 127.0.0.1
        "2002:808:808::1",  # 6to4 of a public IPv4: a relay chooses the path (RFC 7526 deprecates it)
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo (RFC 4380), client 127.0.0.1
        "::ffff:127.0.0.1",  # IPv4-mapped (RFC 4291 section 2.5.5.2)
        "::ffff:a9fe:a9fe",  # IPv4-mapped 169.254.169.254
        "::ffff:0:7f00:1",  # IPv4-translated (RFC 2765)
        "::7f00:1",  # IPv4-compatible (RFC 4291 section 2.5.5.1, deprecated)
        "::808:808",  # IPv4-compatible, even of a public IPv4
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",  # site-local (RFC 3879)
        "ff02::1",  # multicast
        "100::1",  # discard-only (RFC 6666)
        "2001:db8::1",  # documentation
        "3fff::1",  # documentation (RFC 9637)
        "5f00::1",  # SRv6 SIDs (RFC 9602)
        "127.0.0.1",
        "10.1.2.3",
        "100.64.0.1",  # carrier-grade NAT (RFC 6598)
        "169.254.169.254",
        "172.16.0.1",
        "192.0.0.8",  # IETF protocol assignments (RFC 6890)
        "192.88.99.1",  # 6to4 relay anycast (RFC 7526)
        "192.168.1.1",
        "198.18.0.1",  # benchmarking
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "0.0.0.0",  # noqa: S104 - the address under test, not a bind
    ],
)
@pytest.mark.parametrize("protocol", ["imap", "smtp"])
async def test_an_address_that_reaches_an_internal_one_is_refused_before_any_connection(
    network: Network, protocol: str, address: str
) -> None:
    network.answers[HOST] = [[address]]
    with pytest.raises(MailServerRejected, match="non-public"):
        await _login(network)(protocol)
    assert network.dialled == []


async def test_one_internal_address_among_public_ones_refuses_the_host(network: Network) -> None:
    network.answers[HOST] = [[PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "10.0.0.5"]]
    with pytest.raises(MailServerRejected, match="non-public"):
        await _login(network)("imap")
    assert network.dialled == []


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC,
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
        "64:ff9b::5db8:d70e",  # what DNS64 (RFC 6147) answers on an IPv6-only network for 93.184.215.14
        "::ffff:93.184.215.14",
    ],
)
async def test_a_public_address_is_dialled_as_resolved(network: Network, address: str) -> None:
    network.answers[HOST] = [[address]]
    with pytest.raises(MailServerRejected, match="does not route"):
        await _login(network)("imap")
    assert [ipaddress.ip_address(a) for a in network.dialled] == [ipaddress.ip_address(address)]


async def test_the_next_address_is_tried_when_one_does_not_answer(network: Network) -> None:
    """Development policy (`allow_private`): loopback is allowed, and a host with several addresses is dialled in
    the resolver's order, as the system's own connect does."""
    network.answers[HOST] = [[PUBLIC, "127.0.0.1"]]
    policy = OutboundPolicy(allow_private=True, timeout=2.0)
    server = ServerSettings(HOST, network.port, Security.NONE, "victim@example.com")
    with pytest.raises(MailServerRejected):
        await AioimaplibLoginCheck(policy).verify_login(server, MailLogin("secret"))
    assert network.dialled == [PUBLIC, "127.0.0.1"]
    assert network.reached == ["127.0.0.1"]
    assert network.lookups == 1
