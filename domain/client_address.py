"""Where a request came from: the address that connected, unless that is a proxy the operator trusts; then the
address the proxies say they received it from."""

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The proxies whose forwarding headers are believed; none by default, since any client can write them."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, value: str) -> "TrustedProxies":
        """Comma-separated addresses and CIDR networks (`10.0.0.0/8, 2001:db8::1`)."""
        networks = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise InvalidInput("trusted_proxies", f"{item!r} is not an IP address or network") from None
        return cls(tuple(networks))

    def trust(self, address: str | None) -> bool:
        parsed = _ip(address) if address else None
        return parsed is not None and any(parsed in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: Sequence[str]) -> str | None:
        """The right-most address that is not itself a trusted proxy.

        Each proxy appends the address it received the request from, so, read from the right, the entries are
        true for as long as the one who wrote them is trusted: the first untrusted one is the client that
        connected to the outermost trusted proxy, and whatever stands to its left that client wrote itself. An
        entry that is no address (`unknown`, an RFC 7239 obfuscated name) stops the walk at the proxy that wrote
        it."""
        client = str(_ip(peer) or peer) if peer else None
        for hop in reversed(forwarded_for):
            if not self.trust(client):
                break
            address = _ip(hop)
            if address is None:
                break
            client = str(address)
        return client


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, maybe
    quoted (RFC 7239 section 6); an IPv4-mapped IPv6 address as the IPv4 one."""
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
