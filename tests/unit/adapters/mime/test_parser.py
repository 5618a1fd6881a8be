import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters.mime.parser import StdlibMessageParser
from domain.messages import Address
from tests.unit import mail_corpus as corpus

parse = StdlibMessageParser().parse


def test_a_plain_message_is_read_whole() -> None:
    parsed = parse(corpus.plain(In_Reply_To=b"<root@example.com>", References=b"<root@example.com> <p@example.com>"))
    assert parsed.subject == "Plain"
    assert parsed.sender == [Address("Alice", "alice@example.com")]
    assert parsed.to == [Address("", "bob@example.com")]
    assert parsed.date == datetime(2026, 11, 24, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert (parsed.message_id, parsed.in_reply_to) == ("<plain-1@example.com>", "<root@example.com>")
    assert parsed.references == ["<root@example.com>", "<p@example.com>"]
    assert parsed.thread_key == "<root@example.com>"
    assert (parsed.text_body, parsed.html_body, parsed.preview) == ("Hello there\n", None, "Hello there")
    assert parsed.warnings == []


def test_missing_date_and_message_id_are_warnings() -> None:
    parsed = parse(corpus.plain(Date=b"", Message_ID=b""))
    assert (parsed.date, parsed.message_id, parsed.thread_key) == (None, None, None)
    assert {"no Date header", "no Message-ID header"} <= set(parsed.warnings)


def test_an_unreadable_date_is_a_warning() -> None:
    parsed = parse(corpus.plain(Date=b"yesterday-ish"))
    assert parsed.date is None
    assert "unreadable Date header" in parsed.warnings


def test_a_date_without_zone_is_taken_as_utc() -> None:
    assert parse(corpus.plain(Date=b"Tue, 24 Nov 2026 10:00:00 -0000")).date == datetime(2026, 11, 24, 10, tzinfo=UTC)


def test_8bit_body_without_charset_is_read_as_utf8() -> None:
    assert parse(corpus.no_charset_8bit_body()).text_body == "Grüße\n"


def test_a_wrong_charset_falls_back_and_says_so() -> None:
    parsed = parse(corpus.wrong_charset())
    assert parsed.text_body is not None
    assert parsed.text_body.startswith("Café crème")
    assert any("did not decode" in w for w in parsed.warnings)


def test_an_unknown_charset_falls_back() -> None:
    parsed = parse(corpus.unknown_charset())
    assert parsed.text_body == "plain ascii\n"
    assert any("x-klingon" in w for w in parsed.warnings)


def test_8bit_headers_are_decoded() -> None:
    parsed = parse(corpus.eight_bit_headers())
    assert parsed.subject == "Réunion à 15h"
    assert parsed.sender == [Address("Zoë", "zoe@example.com")]
    assert parsed.to == [Address("田中", "tanaka@example.jp")]
    assert "8-bit characters in a header" in parsed.warnings


def test_rfc2047_words_decode_and_cannot_split_an_address_list() -> None:
    parsed = parse(corpus.encoded_words())
    assert parsed.subject == "📧 Newsletter für Sie"
    assert parsed.sender == [Address("Doe, John", "john@example.com"), Address("Ana María", "ana@example.com")]


def test_an_encoded_newline_cannot_smuggle_a_header() -> None:
    subject = parse(corpus.header_injection_subject()).subject
    assert "\r" not in subject
    assert "\n" not in subject
    assert subject.startswith("Hi")


def test_rfc2231_filenames_are_decoded() -> None:
    parsed = parse(corpus.rfc2231_filename())
    assert parsed.text_body == "see attached\n"
    [attachment] = parsed.attachments
    assert (attachment.filename, attachment.content_type, attachment.size) == ("Größe € .pdf", "application/pdf", 8)
    assert attachment.part == "2"


def test_nested_parts_give_both_bodies_and_an_attached_message_stays_one_attachment() -> None:
    parsed = parse(corpus.nested_with_attached_message())
    assert parsed.text_body == "text version\n"
    assert parsed.html_body == "<p>html <b>version</b></p>\n"
    image, forwarded = parsed.attachments
    assert (image.part, image.filename, image.content_id, image.content_type) == (
        "2",
        "pic.png",
        "img1@example.com",
        "image/png",
    )
    assert (forwarded.part, forwarded.content_type) == ("3", "message/rfc822")
    assert forwarded.size > len("forwarded body")
    assert "forwarded body" not in (parsed.text_body or "")


def test_a_multipart_without_boundary_is_read_as_text() -> None:
    parsed = parse(corpus.missing_boundary())
    assert parsed.text_body is not None
    assert "lost parts" in parsed.text_body
    assert any("boundary" in w.lower() for w in parsed.warnings)


def test_text_is_derived_from_html_when_there_is_no_text_part() -> None:
    parsed = parse(corpus.html_only())
    assert parsed.text_body == "Hello world\nsecond & last"
    assert parsed.preview == "Hello world second & last"
    assert parsed.html_body is not None
    assert "alert(1)" not in parsed.text_body


def test_a_30_mb_attachment_is_measured_not_kept_as_text() -> None:
    parsed = parse(corpus.big_attachment(30))
    [attachment] = parsed.attachments
    assert (attachment.filename, attachment.size) == ("blob.bin", 30 * 1024 * 1024)
    assert parsed.text_body == "huge file attached"


def test_long_bodies_are_cut_for_storage() -> None:
    parsed = StdlibMessageParser(max_body_chars=100).parse(corpus.plain(body=b"word " * 1000))
    assert parsed.text_body is not None
    assert len(parsed.text_body) == 100
    assert "text body cut at 100 characters" in parsed.warnings


@pytest.mark.parametrize(
    "raw", [b"", corpus.garbage(), b"\r\n\r\n", b"Subject: =?utf-8?q?unterminated", b"From: <<<@@@>>>"]
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse(raw)
    assert isinstance(parsed.subject, str)
    assert isinstance(parsed.warnings, list)


def test_the_preview_is_the_start_of_the_body_with_whitespace_collapsed() -> None:
    body = b"\n" * 3000 + b"  ".join(b"word%d\r\n\t" % n for n in range(2000))
    parsed = parse(corpus.plain(body=body))
    expected = " ".join(f"word{n}" for n in range(2000))[:200]
    assert parsed.preview == expected


@pytest.mark.parametrize(
    ("encoding", "decoded"), [(b"base64", True), (b" BASE64 ", True), ("base64 \xe9".encode("latin-1"), False)]
)
def test_an_attachment_size_is_its_decoded_size_and_an_unknown_encoding_is_kept_as_is(
    encoding: bytes, decoded: bool
) -> None:
    content = bytes(range(256)) * 40
    encoded = base64.encodebytes(content).replace(b"\n", b"\r\n").rstrip()
    raw = corpus.lines(
        b"From: a@example.com",
        b'Content-Type: multipart/mixed; boundary="b"',
        b"",
        b"--b",
        b"Content-Type: text/plain",
        b"",
        b"see attached",
        b"--b",
        b'Content-Type: application/octet-stream; name="data.bin"',
        b"Content-Transfer-Encoding: " + encoding,
        b"",
        encoded,
        b"--b--",
    )
    parsed = parse(raw)
    assert parsed.text_body == "see attached"
    assert [(a.filename, a.size) for a in parsed.attachments] == [
        ("data.bin", len(content) if decoded else len(encoded))
    ]
