"""Hostile and broken messages, built in code so nothing third-party is vendored."""

import base64
from email.message import EmailMessage

CRLF = b"\r\n"


def lines(*rows: bytes) -> bytes:
    return CRLF.join(rows) + CRLF


def plain(body: bytes = b"Hello there", **headers: bytes) -> bytes:
    base = {
        b"From": b"Alice <alice@example.com>",
        b"To": b"bob@example.com",
        b"Subject": b"Plain",
        b"Date": b"Tue, 24 Nov 2026 10:00:00 +0100",
        b"Message-ID": b"<plain-1@example.com>",
    }
    base |= {k.replace("_", "-").encode(): v for k, v in headers.items()}
    return lines(*(name + b": " + value for name, value in base.items() if value), b"", body)


def no_charset_8bit_body() -> bytes:
    return lines(b"From: a@example.com", b"Subject: x", b"Content-Type: text/plain", b"", "Grüße".encode())


def wrong_charset() -> bytes:
    return lines(
        b"From: a@example.com", b"Content-Type: text/plain; charset=utf-8", b"", "Café crème".encode("latin-1")
    )


def unknown_charset() -> bytes:
    return lines(b"From: a@example.com", b"Content-Type: text/plain; charset=x-klingon", b"", b"plain ascii")


def eight_bit_headers() -> bytes:
    return lines(
        "Subject: Réunion à 15h".encode(),
        "From: Zoë <zoe@example.com>".encode(),
        "To: 田中 <tanaka@example.jp>".encode(),
        b"",
        b"body",
    )


def encoded_words() -> bytes:
    return lines(
        b"Subject: =?UTF-8?B?8J+TpyBOZXdzbGV0dGVy?= =?ISO-8859-1?Q?_f=FCr_Sie?=",
        b"From: =?UTF-8?Q?Doe=2C_John?= <john@example.com>, =?UTF-8?Q?Ana_Mar=C3=ADa?= <ana@example.com>",
        b"",
        b"body",
    )


def header_injection_subject() -> bytes:
    return lines(b"Subject: =?UTF-8?Q?Hi=0D=0ABcc:_victim@example.com?=", b"From: a@example.com", b"", b"x")


def rfc2231_filename() -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "a@example.com", "report"
    message.set_content("see attached")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename=("utf-8", "", "Größe € .pdf"))
    return message.as_bytes()


def nested_with_attached_message() -> bytes:
    inner = EmailMessage()
    inner["From"], inner["Subject"] = "c@example.com", "Original"
    inner.set_content("forwarded body")
    outer = EmailMessage()
    outer["From"], outer["Subject"], outer["Message-ID"] = "a@example.com", "Fwd", "<fwd@example.com>"
    outer.set_content("text version")
    outer.add_alternative("<p>html <b>version</b></p>", subtype="html")
    outer.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="pic.png", cid="<img1@example.com>")
    outer.add_attachment(inner)
    return outer.as_bytes()


def missing_boundary() -> bytes:
    return lines(
        b"From: a@example.com",
        b"Content-Type: multipart/mixed",
        b"",
        b"--zzz",
        b"Content-Type: text/plain",
        b"",
        b"lost parts",
        b"--zzz--",
    )


def html_only() -> bytes:
    return lines(
        b"From: a@example.com",
        b"Content-Type: text/html; charset=utf-8",
        b"",
        b"<html><head><style>p{color:red}</style></head><body><p>Hello&nbsp;<b>world</b></p>"
        b"<script>alert(1)</script><p>second &amp; last</p></body></html>",
    )


def big_attachment(megabytes: int = 30) -> bytes:
    payload = base64.encodebytes(b"\0" * (megabytes * 1024 * 1024))
    return lines(
        b"From: a@example.com",
        b"Subject: big",
        b'Content-Type: multipart/mixed; boundary="b1"',
        b"",
        b"--b1",
        b"Content-Type: text/plain",
        b"",
        b"huge file attached",
        b"--b1",
        b'Content-Type: application/octet-stream; name="blob.bin"',
        b"Content-Transfer-Encoding: base64",
        b"",
        payload.rstrip(b"\n").replace(b"\n", CRLF),
        b"--b1--",
    )


def garbage() -> bytes:
    return bytes(range(256)) * 20
