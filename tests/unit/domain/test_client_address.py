"""The client address behind trusted proxies: the right-most forwarded address that is not itself a trusted proxy."""

from pathlib import Path

import pytest

from domain.client_address import TrustedProxies
from domain.errors import InvalidInput
from domain.limits import client_bucket
from entrypoints.http.client_address import forwarded_hops
from entrypoints.settings import SettingsError, load_settings

PROXIES = TrustedProxies.parse("10.0.0.0/8, 192.0.2.1, 2001:db8:ffff::/48")


def test_nothing_is_trusted_by_default() -> None:
    assert TrustedProxies.parse("") == TrustedProxies()
    assert TrustedProxies().client_address("127.0.0.1", ["198.51.100.1"]) == "127.0.0.1"


@pytest.mark.parametrize(
    ("peer", "hops", "client"),
    [
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # an untrusted peer's header is ignored
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        ("10.1.2.3", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # what the client wrote on the left is skipped
        ("10.1.2.3", ["6.6.6.6", "198.51.100.1", "192.0.2.1"], "198.51.100.1"),  # through two trusted proxies
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["192.0.2.1", "10.9.9.9"], "192.0.2.1"),  # all trusted: the left-most one
        ("10.1.2.3", ["6.6.6.6", "unknown"], "10.1.2.3"),  # no address: the proxy that wrote it
        ("10.1.2.3", ["198.51.100.1:4711"], "198.51.100.1"),
        ("10.1.2.3", ['"[2001:db8:cafe::17]:4711"'], "2001:db8:cafe::17"),
        ("::ffff:10.1.2.3", ["::ffff:198.51.100.1"], "198.51.100.1"),
        ("2001:db8:ffff:1::1", ["2001:db8:cafe::17"], "2001:db8:cafe::17"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_the_right_most_untrusted_address_is_the_client(peer: str | None, hops: list[str], client: str | None) -> None:
    assert PROXIES.client_address(peer, hops) == client


def test_a_proxy_list_that_is_not_addresses_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"'proxy\.internal' is not an IP address or network"):
        TrustedProxies.parse("10.0.0.0/8, proxy.internal")
    with pytest.raises(SettingsError, match="MAILROOM_TRUSTED_PROXIES"):
        load_settings({"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_TRUSTED_PROXIES": "10.0.0.0/33"})


def test_forwarding_headers_are_read_left_to_right_across_field_lines() -> None:
    assert forwarded_hops(["1.1.1.1, 2.2.2.2", "3.3.3.3"], "x-forwarded-for") == ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
    forwarded = ['for=192.0.2.43;proto=https, by=10.0.0.1, For="[2001:db8::1]:80"', "for=_hidden"]
    assert forwarded_hops(forwarded, "forwarded") == ["192.0.2.43", "", '"[2001:db8::1]:80"', "_hidden"]


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("testclient", "testclient"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_64_network(address: str, bucket: str) -> None:
    assert client_bucket(address) == bucket
