"""The sync's IMAP session against the real Dovecot: folders, SELECT with QRESYNC, fetches, flags, UIDs."""

import imaplib
import logging
import os
import pwd
import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from uuid import uuid4

import pytest

from adapters.imap.session import AioimaplibConnector
from adapters.imap.utf7 import quote
from adapters.network import OutboundPolicy
from domain.accounts import MailLogin, Security, ServerSettings
from domain.mailboxes import MailboxRole, SyncState
from domain.ports.mail import ImapSession
from tests.conftest import mail_server_settings

USER = "carol"


@pytest.fixture(scope="module")
def mail() -> dict[str, str]:
    return mail_server_settings()


def login(mail: dict[str, str]) -> tuple[ServerSettings, str]:
    user = f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
    server = ServerSettings(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]), Security.NONE, user)
    return server, f"{USER}-password-1"


def open_session(mail: dict[str, str]) -> AbstractAsyncContextManager[ImapSession]:
    policy = OutboundPolicy(allow_private=True, timeout=30)
    server, password = login(mail)
    return AioimaplibConnector(policy)(server, MailLogin(password))


@pytest.fixture
def other_client(mail: dict[str, str]) -> Iterator[imaplib.IMAP4]:
    """Another IMAP client, acting as the user's phone or webmail."""
    server, password = login(mail)
    client = imaplib.IMAP4(server.host, server.port)
    client.login(server.username, password)
    yield client
    client.logout()


@pytest.fixture
def folder(other_client: imaplib.IMAP4) -> Iterator[str]:
    name = f"Test Ördner {uuid4().hex[:8]}"
    other_client.create(quote(name))
    yield name
    other_client.delete(quote(name))


def append(client: imaplib.IMAP4, folder: str, subject: str, body: bytes = b"hello", flags: str = "") -> None:
    raw = b"From: a@example.com\r\nSubject: " + subject.encode() + b"\r\nMessage-ID: <" + subject.encode()
    raw += b"@x>\r\n\r\n" + body + b"\r\n"
    client.append(quote(folder), flags or None, None, raw)


async def test_lists_folders_with_roles_and_decoded_names(mail: dict[str, str], folder: str) -> None:
    async with open_session(mail) as session:
        folders = {f.name: f for f in await session.list_folders()}
    assert folders[folder].delimiter == "/"
    assert folders[folder].selectable
    roles = {f.role for f in folders.values()}
    assert {MailboxRole.INBOX, MailboxRole.SENT, MailboxRole.DRAFTS, MailboxRole.TRASH, MailboxRole.JUNK} <= roles
    assert "QRESYNC" in session.capabilities


async def test_fetches_new_messages_and_skips_bodies_over_the_size_cap(
    mail: dict[str, str], folder: str, other_client: imaplib.IMAP4
) -> None:
    append(other_client, folder, "one", flags="(\\Seen)")
    append(other_client, folder, "two")
    append(other_client, folder, "big", body=b"x" * 5000)
    async with open_session(mail) as session:
        selected = await session.select(folder)
        fetched = await session.fetch_messages(await session.uids(), max_size=1000)
    assert (selected.exists, selected.uidnext) == (3, 4)
    assert selected.highest_modseq
    assert [m.uid for m in fetched] == [1, 2, 3]
    one, two, big = fetched
    assert one.flags.seen
    assert not two.flags.seen
    assert one.raw is not None
    assert b"Subject: one" in one.raw
    assert (big.raw, big.size > 5000) == (None, True)
    assert one.internal_date.tzinfo is not None


async def test_debug_logging_of_the_imap_client_shows_no_message_content(
    mail: dict[str, str], folder: str, other_client: imaplib.IMAP4, caplog: pytest.LogCaptureFixture
) -> None:
    append(other_client, folder, "private", body=b"the private body text")
    with caplog.at_level(logging.DEBUG, logger="aioimaplib"):
        async with open_session(mail) as session:
            await session.select(folder)
            fetched = await session.fetch_messages(await session.uids(), max_size=10_000)
    assert fetched[0].raw is not None
    assert b"the private body text" in fetched[0].raw
    assert "private body" not in caplog.text


async def test_changed_flags_and_expunges_since_a_known_state(
    mail: dict[str, str], folder: str, other_client: imaplib.IMAP4
) -> None:
    for subject in ("a", "b", "c"):
        append(other_client, folder, subject)
    async with open_session(mail) as session:
        before = await session.select(folder)
    other_client.select(quote(folder))
    other_client.uid("STORE", "2", "+FLAGS", "(\\Flagged)")
    other_client.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
    other_client.expunge()
    known = SyncState(before.uidvalidity, last_uid=3, highest_modseq=before.highest_modseq)
    async with open_session(mail) as session:
        after = await session.select(folder, known)
        changed = await session.fetch_flags(1, changed_since=before.highest_modseq)
        uids = await session.uids()
    assert after.vanished == [1]
    assert [(u.uid, u.flags.flagged) for u in after.changed] == [(2, True)]
    assert [(u.uid, u.flags.flagged) for u in changed] == [(2, True)]
    assert list(uids) == [2, 3]


@pytest.fixture
def big_folder(mail: dict[str, str], other_client: imaplib.IMAP4) -> Iterator[tuple[str, int]]:
    """A folder of 20,000 messages written straight into the Maildir (APPENDing them would take minutes)."""
    count, name = 20_000, f"big{uuid4().hex[:8]}"
    root = Path(mail["MAILROOM_TEST_MAIL_DIR"], USER, "Maildir", f".{name}")
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    now = int(time.time())
    for n in range(count):
        flags = "S" if n % 2 else ""
        (root / "cur" / f"{now}.M{n}P1.mailroom:2,{flags}").write_bytes(
            b"From: a@example.com\r\nSubject: bulk %d\r\n\r\nbody\r\n" % n
        )
    vmail = pwd.getpwnam("vmail")
    for path in [root, *root.rglob("*")]:
        os.chown(path, vmail.pw_uid, vmail.pw_gid)
    yield name, count
    other_client.delete(quote(name))


async def test_flags_and_uids_of_a_20000_message_folder(mail: dict[str, str], big_folder: tuple[str, int]) -> None:
    name, count = big_folder
    async with open_session(mail) as session:
        selected = await session.select(name)
        flags = await session.fetch_flags(1)
        uids = await session.uids()
        fetched = await session.fetch_messages(range(1, 2_001), 10_000)
    assert [f.uid for f in fetched] == list(range(1, 2_001)), "2,000 at once, more than one read can recurse over"
    assert fetched[-1].raw is not None
    assert b"bulk 1999" in fetched[-1].raw
    assert selected.exists == count
    assert len(flags) == count
    assert sum(update.flags.seen for update in flags) == count // 2
    assert list(uids) == list(range(1, count + 1))
