"""The client address of a request, read through the proxies named in MAILROOM_TRUSTED_PROXIES
(domain.client_address holds the rule). Uvicorn's own proxy-header handling is off (`mailroom serve`), or it
would believe X-Forwarded-For from any loopback peer."""

from typing import Any, Literal

from litestar.connection import ASGIConnection

from domain.client_address import TrustedProxies

ForwardedHeader = Literal["x-forwarded-for", "forwarded"]


def client_address(
    connection: ASGIConnection[Any, Any, Any, Any], proxies: TrustedProxies, header: ForwardedHeader
) -> str | None:
    peer = connection.client.host if connection.client else None
    if not proxies.trust(peer):
        return peer
    values = connection.headers.getall(header, [])
    return proxies.client_address(peer, forwarded_hops(values, header))


def forwarded_hops(values: list[str], header: ForwardedHeader) -> list[str]:
    """The addresses of a forwarding header, left to right, its field lines taken as one list (RFC 9110 section
    5.3). Only the header the proxy writes is read: a client may have written the other, which the proxy passes
    on untouched. An RFC 7239 element without `for=` stands as an empty entry, so positions stay right."""
    elements = [element for value in values for element in value.split(",")]
    if header == "x-forwarded-for":
        return [element.strip() for element in elements]
    return [_for_parameter(element) for element in elements]


def _for_parameter(element: str) -> str:
    for pair in element.split(";"):
        name, _, value = pair.partition("=")
        if name.strip().lower() == "for":
            return value.strip()
    return ""
