"""Which address a login is counted against: the peer's, unless the peer is a proxy named in
MAILROOM_TRUSTED_PROXIES; then the right-most forwarded address that is not itself a trusted proxy."""

import os
from pathlib import Path

import httpx
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.test_cli import start_serve
from tests.e2e.test_rate_limits import LOGIN, PinnedClock, peer


def _wrong(n: int) -> dict[str, str]:
    """A failed login on an account of its own, so that only the client address's budget is spent."""
    return {"tenant": "acme", "email": f"user{n}@acme.test", "password": "guess"}


def test_forwarded_headers_from_an_untrusted_peer_are_ignored_by_mailroom_serve(tmp_path: Path) -> None:
    """The real server, on loopback: a client that writes a new X-Forwarded-For (or Forwarded) on each attempt is
    still counted as the address it connects from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")} | {"MAILROOM_DATA_DIR": str(tmp_path)}
    process, base = start_serve(env)
    try:
        codes = []
        for n in range(7):
            spoofed = {"X-Forwarded-For": f"198.51.100.{n}", "Forwarded": f"for=192.0.2.{n}"}
            codes.append(httpx.post(f"{base}{LOGIN}", json=_wrong(n), headers=spoofed, timeout=10).status_code)
        assert codes == [401] * 5 + [429] * 2
    finally:
        process.terminate()
        process.communicate(timeout=20)


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(tmp_path: Path) -> None:
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"})
    app = create_app(MemoryProvider(), PinnedClock(), settings=settings)
    async with AsyncTestClient(app), peer(app, "10.1.2.3") as proxy:
        codes = []
        for n in range(7):  # the attacker writes a new address on the left each time; the proxy appends the real one
            forwarded = {"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.9"}
            codes.append((await proxy.post(LOGIN, json=_wrong(n), headers=forwarded)).status_code)
        assert codes == [401] * 5 + [429] * 2

        other = await proxy.post(LOGIN, json=_wrong(10), headers={"X-Forwarded-For": "203.0.113.50"})
        assert other.status_code == 401
        through_two = {"X-Forwarded-For": "203.0.113.9, 192.0.2.1"}  # the attacker, through a second trusted proxy
        assert (await proxy.post(LOGIN, json=_wrong(11), headers=through_two)).status_code == 429


async def test_the_forwarded_header_is_read_when_configured(tmp_path: Path) -> None:
    """RFC 7239 `Forwarded` instead of X-Forwarded-For; the header the proxy does not write is ignored, since a
    client may have written it."""
    environ = {
        "MAILROOM_DATA_DIR": str(tmp_path),
        "MAILROOM_TRUSTED_PROXIES": "10.1.2.3",
        "MAILROOM_FORWARDED_HEADER": "forwarded",
    }
    app = create_app(MemoryProvider(), PinnedClock(), settings=load_settings(environ))
    async with AsyncTestClient(app), peer(app, "10.1.2.3") as proxy:
        codes = []
        for n in range(7):
            headers = {"Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https', "X-Forwarded-For": f"192.0.2.{n}"}
            codes.append((await proxy.post(LOGIN, json=_wrong(n), headers=headers)).status_code)
        assert codes == [401] * 5 + [429] * 2
        other = await proxy.post(LOGIN, json=_wrong(10), headers={"Forwarded": "for=203.0.113.50"})
        assert other.status_code == 401
