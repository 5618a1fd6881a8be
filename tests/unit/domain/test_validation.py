from datetime import UTC, datetime, timedelta

import pytest

from domain.accounts import MailAccountDetails, Security, ServerSettings
from domain.errors import InvalidInput
from domain.ids import new_id
from domain.pagination import PageRequest
from domain.sync import AccountSync
from domain.tenants import normalise_email, require_slug


def server(**overrides: object) -> ServerSettings:
    values: dict[str, object] = {"host": "imap.example.com", "port": 993, "security": Security.SSL}
    values |= {"username": "alice", "prefix": "imap"} | overrides
    return ServerSettings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["imap.example.com", "127.0.0.1", "[::1]", "::1", "mail-1.example.org."])
def test_accepts_host_names_and_ip_literals(host: str) -> None:
    assert server(host=host).host == host


@pytest.mark.parametrize(
    "host", ["", "imap example.com", "imap.example.com\r\nX: y", "http://imap.example.com", "-bad.com", "a..b"]
)
def test_refuses_hosts_that_are_not_host_names(host: str) -> None:
    with pytest.raises(InvalidInput) as error:
        server(host=host)
    assert error.value.field == "imap.host"


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_refuses_ports_outside_1_to_65535(port: int) -> None:
    with pytest.raises(InvalidInput) as error:
        server(port=port)
    assert error.value.field == "imap.port"


@pytest.mark.parametrize("username", ["", "alice\n", "al\x00ice", "x" * 321])
def test_refuses_empty_or_control_character_usernames(username: str) -> None:
    with pytest.raises(InvalidInput, match=r"imap\.username"):
        server(username=username)


@pytest.mark.parametrize(
    "email", ["alice", "alice@", "@example.com", "a b@example.com", "alice@localhost", "a..b@x.com"]
)
def test_account_email_must_be_an_address(email: str) -> None:
    with pytest.raises(InvalidInput) as error:
        MailAccountDetails("Work", email, server(), server(prefix="smtp"))
    assert error.value.field == "email"


def test_login_emails_compare_case_insensitively() -> None:
    assert normalise_email("  Alice@Example.COM ") == "alice@example.com"


@pytest.mark.parametrize("slug", ["Acme", "acme corp", "-acme", "a" * 64, ""])
def test_tenant_slugs_are_lowercase_words(slug: str) -> None:
    with pytest.raises(InvalidInput):
        require_slug(slug)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (201, 0), (10, -1)])
def test_page_requests_are_bounded(limit: int, offset: int) -> None:
    with pytest.raises(InvalidInput):
        PageRequest(limit=limit, offset=offset)


def test_ids_are_uuid7_and_only_grow_even_within_a_millisecond() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in ids)


def test_a_sync_is_stalled_when_its_job_was_lost_or_its_worker_died() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    sync = AccountSync(new_id(), new_id())
    sync.queue("j", now)
    assert not sync.stalled(now + timedelta(minutes=14))
    assert sync.stalled(now + timedelta(minutes=15))
    sync.take_lease("w", now, timedelta(minutes=5))
    sync.start(now)
    assert not sync.stalled(now + timedelta(minutes=4))
    assert sync.stalled(now + timedelta(minutes=5))
    sync.finish(now)
    assert not sync.stalled(now + timedelta(days=1))
