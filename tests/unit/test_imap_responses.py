from datetime import UTC, datetime

import pytest

from adapters.imap.responses import compress_uids, expand_uid_set, parse_fetch, parse_list, parse_search, parse_select
from adapters.imap.utf7 import decode_mailbox_name, encode_mailbox_name, quote
from domain.mailboxes import MailboxRole, role_for
from domain.messages import Flags


@pytest.mark.parametrize(
    ("decoded", "encoded"),
    [
        ("INBOX", "INBOX"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("A & B", "A &- B"),
        ("日本語", "&ZeVnLIqe-"),
        ("~peter/mail", "~peter/mail"),
    ],
)
def test_modified_utf7_round_trips(decoded: str, encoded: str) -> None:
    assert encode_mailbox_name(decoded) == encoded
    assert decode_mailbox_name(encoded) == decoded


def test_quoting_escapes_quotes_and_backslashes() -> None:
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'


def test_list_lines_give_names_delimiters_and_flags() -> None:
    folders = parse_list(
        [
            b'(\\HasNoChildren \\Sent) "/" Sent',
            b'(\\Noselect \\HasChildren) "." "[Gmail]"',
            b"(\\HasNoChildren) NIL {11}",
            bytearray(b"Entw&APw-rfe"),
            b'(\\HasNoChildren) "/" "Quoted \\"name\\""',
            b"List completed.",
        ]
    )
    assert [(f.name, f.delimiter) for f in folders] == [
        ("Sent", "/"),
        ("[Gmail]", "."),
        ("Entwürfe", None),
        ('Quoted "name"', "/"),
    ]
    assert folders[1].flags == ["\\Noselect", "\\HasChildren"]


def test_roles_come_from_special_use_then_names() -> None:
    assert role_for("Inbox", "/", []) is MailboxRole.INBOX
    assert role_for("Stuff", "/", ["\\HasNoChildren", "\\Archive"]) is MailboxRole.ARCHIVE
    assert role_for("[Gmail]/Sent Mail", "/", []) is MailboxRole.SENT
    assert role_for("INBOX.Spam", ".", []) is MailboxRole.JUNK
    assert role_for("Projects/Trash talk", "/", []) is None


def test_select_codes_exists_and_vanished() -> None:
    report = parse_select(
        [
            b"FLAGS (\\Seen)",
            b"12 EXISTS",
            b"OK [UIDVALIDITY 1795545063] UIDs valid",
            b"OK [UIDNEXT 40] Predicted next UID",
            b"OK [HIGHESTMODSEQ 77] Highest",
            b"VANISHED (EARLIER) 3:5,9",
        ]
    )
    assert (report.uidvalidity, report.uidnext, report.exists, report.highest_modseq) == (1795545063, 40, 12, 77)
    assert report.vanished == [3, 4, 5, 9]


def test_fetch_lines_pair_literals_with_their_message_and_skip_unsolicited_lines() -> None:
    items = list(
        parse_fetch(
            [
                b'1 FETCH (UID 7 FLAGS (\\Seen $Label1) INTERNALDATE "24-Nov-2026 18:31:01 +0100" '
                b"RFC822.SIZE 5 MODSEQ (12) BODY[] {5}",
                bytearray(b"hello"),
                b")",
                b"9 EXISTS",
                b"2 FETCH (UID 8 FLAGS ())",
            ]
        )
    )
    first, second = items
    assert first.uid == 7
    assert first.flags == Flags(seen=True, keywords=frozenset({"$Label1"}))
    assert first.internal_date == datetime(2026, 11, 24, 17, 31, 1, tzinfo=UTC)
    assert (first.size, first.modseq, first.body) == (5, 12, b"hello")
    assert (second.uid, second.flags, second.body) == (8, Flags(), None)


def test_search_and_uid_sets() -> None:
    assert parse_search([b"2 3 10", b"Search completed."]) == [2, 3, 10]
    assert parse_search([b"Search completed."]) == []
    assert compress_uids([10, 1, 2, 3, 7, 9]) == "1:3,7,9:10"
    assert expand_uid_set("1:3,7") == [1, 2, 3, 7]
