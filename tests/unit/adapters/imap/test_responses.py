from datetime import UTC, datetime

import pytest

from adapters.imap.responses import (
    MAX_VANISHED,
    UnreadableResponse,
    compress_uids,
    expand_uid_set,
    parse_fetch,
    parse_list,
    parse_search,
    parse_select,
)
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
    assert list(parse_search([b"2 3 10", b"Search completed."])) == [2, 3, 10]
    assert list(parse_search([b"Search completed."])) == []
    assert list(parse_search([b"10 2 (MODSEQ 917162500)", b"Search completed."])) == [2, 10]
    assert compress_uids([10, 1, 2, 3, 7, 9]) == "1:3,7,9:10"
    assert expand_uid_set("1:3,7") == [1, 2, 3, 7]


SELECT = [b"3 EXISTS", b"OK [UIDVALIDITY 7] UIDs valid", b"OK [UIDNEXT 4] Predicted next UID"]


@pytest.mark.parametrize(
    ("lines", "named"),
    [
        ([b"3 EXISTS", b"OK [UIDNEXT 4] Predicted next UID"], "no UIDVALIDITY"),
        ([*SELECT, b"OK [UIDVALIDITY 0] UIDs valid"], "UIDVALIDITY 0"),
        ([*SELECT, b"OK [UIDVALIDITY 4294967296] UIDs valid"], "UIDVALIDITY 4294967296"),
        ([*SELECT, b"OK [UIDNEXT 99999999999] Predicted"], "UIDNEXT 99999999999"),
        ([*SELECT, b"OK [HIGHESTMODSEQ 9223372036854775808] Highest"], "HIGHESTMODSEQ"),
        ([*SELECT, b"OK [UIDNEXT " + b"9" * 5000 + b"] Predicted"], "UIDNEXT"),
        ([*SELECT, b"VANISHED (EARLIER) 0:5"], "UID 0"),
    ],
)
def test_select_answers_out_of_range_are_unreadable(lines: list[bytes], named: str) -> None:
    with pytest.raises(UnreadableResponse, match=named):
        parse_select(lines)


def test_vanished_is_clipped_to_the_stored_uids_and_left_out_when_huge() -> None:
    assert parse_select([*SELECT, b"VANISHED (EARLIER) 2:4294967295"], last_known_uid=5).vanished == [2, 3, 4, 5]
    huge = parse_select([*SELECT, b"VANISHED (EARLIER) 1:4294967295"], last_known_uid=MAX_VANISHED + 1)
    assert huge.vanished is None


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (b"1 FETCH (UID 0 FLAGS ())", "UID 0"),
        (b"1 FETCH (UID 4294967296 FLAGS ())", "UID 4294967296"),
        (b'1 FETCH (UID 1 FLAGS () INTERNALDATE "yesterday")', "INTERNALDATE"),
        (b"1 FETCH (UID 1 RFC822.SIZE 99999999999999999999)", "RFC822.SIZE"),
        (b"1 FETCH (UID 1 MODSEQ (9223372036854775808))", "MODSEQ"),
    ],
)
def test_fetch_values_out_of_range_are_unreadable(line: bytes, named: str) -> None:
    with pytest.raises(UnreadableResponse, match=named):
        list(parse_fetch([line]))


@pytest.mark.parametrize("data", [b"1 99999999999", b"0 1", b"1 " + b"9" * 5000, b"1 4294967296", b"1 two"])
def test_search_answers_out_of_range_are_unreadable(data: bytes) -> None:
    with pytest.raises(UnreadableResponse):
        parse_search([data, b"Search completed."])


def test_search_answers_are_sorted_and_once_each() -> None:
    assert list(parse_search([b"9 3 3 4294967295", b"done"])) == [3, 9, 4294967295]
