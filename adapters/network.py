"""Outbound connections to user-supplied mail hosts: TLS settings and the SSRF guard shared by IMAP and SMTP.

The guard resolves a host once, checks every address it resolves to, and hands back a socket connected to one of
those very addresses. A library that looked the name up again could get another answer (DNS rebinding: a public
address for the check, an internal one a second later for the connection), so the IMAP and SMTP clients are given
the connected socket and only use the host name for TLS (SNI and the certificate check)."""

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from domain.accounts import Security
from domain.errors import MailServerRejected

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_IPV4_NOT_PUBLIC = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata services among them
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast (RFC 7526)
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast: `is_global` passes it on Python 3.11
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
"""Every public IPv6 address is allocated from 2000::/3 (RFC 4291 section 2.4); outside it are loopback,
link-local, unique-local, multicast, NAT64 and the IPv4-mapped, -compatible and -translated forms."""
_IPV6_NOT_PUBLIC = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32, RFC 4380) among them
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4 (RFC 3056): a relay or the local tunnel reaches the IPv4 address inside
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def is_public(address: Address) -> bool:
    """Whether `address` is a public internet address, judged on an explicit list rather than on `is_global`,
    which on Python 3.11 passes multicast, NAT64, 6to4 and IPv4-compatible addresses.

    Two IPv6 forms stand for an IPv4 address that the connection really reaches, and are judged by it: the
    IPv4-mapped form (RFC 4291 section 2.5.5.2), which the kernel dials over IPv4, and the NAT64 well-known prefix
    (RFC 6052 section 2.1), which DNS64 answers for every IPv4-only server on an IPv6-only network. The local-use
    NAT64 prefix (64:ff9b:1::/48, RFC 8215) maps as each network chooses, so it is refused with the rest of
    what lies outside 2000::/3."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _IPV4_MAPPED or address in _NAT64_WELL_KNOWN:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        return (
            address in _IPV6_GLOBAL_UNICAST
            and not any(address in network for network in _IPV6_NOT_PUBLIC)
            and address.is_global
        )
    return not any(address in network for network in _IPV4_NOT_PUBLIC) and address.is_global


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of `host` in the system resolver's order (RFC 6724 preference), each once."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in infos))


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """`allow_private` lets hosts resolve to loopback, private or link-local addresses (development, tests).
    `timeout` bounds the lookup and the connection together; `resolver` is the system's unless a test scripts one."""

    allow_private: bool = False
    timeout: float = 15.0
    ca_file: str | None = None
    resolver: Resolver = field(default=system_resolver, repr=False, compare=False)
    allow_plaintext: bool = True

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def require_tls(self, protocol: str, security: Security) -> None:
        """Accounts stored before a deployment refused `security: none` still have it: no password leaves in clear
        where plaintext is not allowed, whatever the stored settings say."""
        if security is Security.NONE and not self.allow_plaintext:
            raise MailServerRejected(protocol, "unencrypted connections are not allowed on this server")

    async def connect(self, protocol: str, host: str, port: int) -> socket.socket:
        """A non-blocking TCP socket connected to `host`, for the IMAP or SMTP client to take over; TLS on it must
        name `host` (`server_hostname=host`), never the address.

        Raises MailServerRejected when the host does not resolve or resolves to any non-public address, OSError
        (TimeoutError among them) when no address accepts the connection."""
        async with asyncio.timeout(self.timeout):
            addresses = await self._checked_addresses(protocol, host, port)
            return await _dial(addresses, port)

    async def _checked_addresses(self, protocol: str, host: str, port: int) -> list[Address]:
        """Every address is checked, not only the first: the connection may fall back to any of them."""
        try:
            addresses = [ipaddress.ip_address(answer) for answer in await self.resolver(host, port)]
        except OSError as error:
            raise MailServerRejected(protocol, f"cannot resolve {host}: {error.strerror or error}") from None
        if not addresses:
            raise MailServerRejected(protocol, f"cannot resolve {host}: no address")
        if not self.allow_private and not all(is_public(address) for address in addresses):
            raise MailServerRejected(protocol, f"{host} resolves to a non-public address, which is not allowed")
        return addresses


def tls_failure(error: BaseException) -> str | None:
    """A reason starting "TLS failed" when an ssl error is behind `error`, else None. Clients wrap it in their own
    (aiosmtplib's SMTPConnectError) or let it out bare from the handshake."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS failed: {seen.reason} ({seen.verify_message})"
        if isinstance(seen, ssl.SSLError):
            return f"TLS failed: {seen.reason or seen}"
        seen = seen.__cause__ or seen.__context__
    return None


async def _dial(addresses: Sequence[Address], port: int) -> socket.socket:
    """Each address in turn until one accepts, as `loop.create_connection` does with a host name."""
    loop = asyncio.get_running_loop()
    errors: list[OSError] = []
    for address in addresses:
        sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, (str(address), port))
        except OSError as error:
            sock.close()
            errors.append(error)
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    if len({str(error) for error in errors}) == 1:
        raise errors[0]
    raise OSError("; ".join(str(error) for error in errors))
