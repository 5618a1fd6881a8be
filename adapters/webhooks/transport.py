"""Webhook deliveries over HTTP with aiohttp, signed with the Standard Webhooks reference library.

The receiver is a URL a tenant typed, so the SSRF guard of `adapters.network` applies to it: aiohttp's connector
asks `PublicOnlyResolver` for the addresses and connects to exactly those (numeric, never looked up again), so the
addresses checked are the addresses dialled and a name that rebinds to an internal address between two lookups
gains nothing. Redirects are not followed: a 3xx could point anywhere, and counts as a failed attempt."""

import asyncio
import binascii
import errno
import ipaddress
import socket
import ssl
import time
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver, ResolveResult
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook
from yarl import URL

from adapters.network import Address, OutboundPolicy, is_public
from domain.changes import LoggedChange, change_document
from domain.ports.webhooks import WebhookTransport
from domain.webhooks import AttemptOutcome

_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
"""Tells the connection the host is an address already: no second lookup."""


class NonPublicAddress(OSError):
    """The resolver's refusal; aiohttp hands it back as the `os_error` of a ClientConnectorError."""


class PublicOnlyResolver(AbstractResolver):
    """Every address a name resolves to is checked, not only the first: the connector may fall back to any."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = [ipaddress.ip_address(answer) for answer in await self._policy.resolver(host, port)]
        except ValueError:
            raise OSError(f"{host}: the resolver answered something that is not an address") from None
        if not self._policy.allow_private and not all(is_public(address) for address in addresses):
            raise NonPublicAddress(f"{host} resolves to a non-public address")
        results = [
            ResolveResult(hostname=host, host=str(address), port=port, family=_family(address), proto=0, flags=_NUMERIC)
            for address in addresses
            if family == socket.AF_UNSPEC or _family(address) == family
        ]
        if not results:
            raise OSError(f"{host} has no address")
        return results

    async def close(self) -> None:
        return None


def _family(address: Address) -> socket.AddressFamily:
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


def literal_refusal(host: str, allow_private: bool) -> str | None:
    """Why a host written as an address may not be reached, or None for a name (the resolver judges those).

    aiohttp connects to whatever looks like an address (digits and dots, or any colon) without asking the resolver,
    so such hosts are judged here. Legacy forms such as `2130706433` or `127.1`, which `ipaddress` rejects but the
    socket layer maps onto 127.0.0.1, are refused outright."""
    if ":" not in host and not host.replace(".", "").isdigit():
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"refused: {host} is not a canonical IP address"
    if allow_private or is_public(address):
        return None
    return f"refused: {host} is not a public address"


class AiohttpWebhookTransport(WebhookTransport):
    """One connection pool for every endpoint of every tenant: no cookies are kept (a receiver's cookie would
    reach another tenant's receiver on the same host), no proxy is taken from the environment, and response bodies
    are neither decompressed nor stored; at most `max_response_bytes` are read, so a short answer leaves its
    connection reusable and a long one is cut off."""

    def __init__(
        self,
        policy: OutboundPolicy,
        timeout: float = 15.0,
        max_connections: int = 100,
        user_agent: str = "Mailroom-Webhooks/1",
        max_response_bytes: int = 64 * 1024,
    ) -> None:
        self._policy = policy
        self._timeout = timeout
        self._max_connections = max_connections
        self._user_agent = user_agent
        self._max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    async def refusal(self, url: str) -> str | None:
        """The checks a delivery makes before it connects, made now: for a clear answer when the endpoint is
        created. The delivery checks again, since the name may resolve elsewhere by then."""
        host = urlsplit(url).hostname or ""
        if (refused := literal_refusal(host, self._policy.allow_private)) is not None:
            return refused
        if ":" in host or host.replace(".", "").isdigit():
            return None
        try:
            async with asyncio.timeout(self._policy.timeout):
                await PublicOnlyResolver(self._policy).resolve(host, 0, socket.AF_UNSPEC)
        except NonPublicAddress:
            return f"refused: {host} resolves to a non-public address"
        except (OSError, TimeoutError):
            return f"cannot resolve {host}"
        return None

    async def deliver(self, url: str, secret: str, event: LoggedChange, at: datetime) -> AttemptOutcome:
        started = time.perf_counter()

        def outcome(status_code: int | None, error: str | None = None) -> AttemptOutcome:
            return AttemptOutcome(status_code, round((time.perf_counter() - started) * 1000), error)

        payload = msgspec.json.encode(change_document(event))
        try:
            signature = Webhook(secret).sign(str(event.change.id), at, payload)
        except (binascii.Error, EmptyWebhookSecretError):
            return outcome(None, "the signing secret is not a Standard Webhooks secret")
        try:
            host = URL(url).raw_host
        except ValueError:
            return outcome(None, "not a valid URL")
        if not host:
            return outcome(None, "not an absolute URL")
        if refusal := literal_refusal(host, self._policy.allow_private):
            return outcome(None, refusal)
        headers = {
            "content-type": "application/json",
            "webhook-id": str(event.change.id),
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        }
        try:
            async with self._client().post(url, data=payload, headers=headers, allow_redirects=False) as response:
                await self._drain(response)
                return outcome(response.status)
        except TimeoutError:
            return outcome(None, f"timed out after {self._timeout:g} s")
        except aiohttp.ClientConnectorError as error:
            return outcome(None, _connect_failure(error))
        except aiohttp.ServerDisconnectedError:
            return outcome(None, "the receiver closed the connection without an answer")
        except (aiohttp.ClientError, OSError) as error:
            return outcome(None, _short(str(error) or type(error).__name__))

    async def _drain(self, response: aiohttp.ClientResponse) -> None:
        """The status is the answer: a body that stalls or breaks after it does not undo it."""
        remaining = self._max_response_bytes
        try:
            while remaining > 0 and (chunk := await response.content.read(remaining)):
                remaining -= len(chunk)
        except (TimeoutError, aiohttp.ClientError):
            return

    def _client(self) -> aiohttp.ClientSession:
        """Made on first use, inside the running event loop, which aiohttp sessions belong to."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=PublicOnlyResolver(self._policy),
                limit=self._max_connections,
                ssl=self._policy.tls_context(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"user-agent": self._user_agent},
                skip_auto_headers=("accept-encoding",),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _connect_failure(error: aiohttp.ClientConnectorError) -> str:
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        certificate_error = error.certificate_error
        reason = getattr(certificate_error, "verify_message", None) or str(certificate_error)
        return _short(f"TLS certificate of {error.host} not accepted: {reason}")
    cause = error.os_error
    if isinstance(cause, NonPublicAddress):
        return f"refused: {cause}"
    if isinstance(error, aiohttp.ClientConnectorSSLError) or isinstance(cause, ssl.SSLError):
        return _short(f"TLS handshake with {error.host} failed: {cause}")
    if isinstance(cause, ConnectionRefusedError) or cause.errno == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return _short(f"cannot resolve {error.host}: {cause.strerror or cause}")
    return _short(f"cannot connect to {error.host}: {cause.strerror or cause}")


def _short(reason: str) -> str:
    return reason if len(reason) <= 300 else reason[:299] + "…"
