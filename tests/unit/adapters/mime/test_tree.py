"""`read_tree` builds the tree the stdlib's feed parser builds, for well-formed and broken messages alike."""

import base64
import inspect
import random
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from typing import Any

import pytest

from adapters.mime import tree
from adapters.mime.parts import base64_size
from adapters.mime.tree import read_tree
from tests.unit import mail_corpus


def structure(message: Message) -> list[tuple[Any, ...]]:
    """Everything the parser decides about each part: headers, envelope, preamble, epilogue, payload, defects."""
    parts = []
    for part in message.walk():
        payload = part.get_payload()
        parts.append(
            (
                part.items(),
                part.get_unixfrom(),
                part.preamble,
                part.epilogue,
                payload if isinstance(payload, str) else len(payload),
                [type(defect).__name__ for defect in part.defects],
                part.get_default_type(),
            )
        )
    return parts


def stdlib(raw: bytes) -> list[tuple[Any, ...]]:
    return structure(message_from_bytes(raw, policy=policy.compat32))


def generated(rng: random.Random, depth: int = 0) -> str:
    """A random message: nested multiparts with preambles, epilogues, blanks after boundaries, look-alike and
    repeated boundary lines, missing closing lines, bad and 8-bit header lines, message/* parts, both line ends."""
    eol = rng.choice(["\r\n", "\r\n", "\n"])
    headers = [f"X-Part: {depth}"]
    if rng.random() < 0.1:
        headers.append(rng.choice(["Not a header", " folded", ": no name", "From nobody", "X-Name: caf\xe9"]))
    boundary = rng.choice(["b", "b1", "=_x", "bb", "b-"]) + str(depth)
    kind = rng.random()
    if depth < 3 and kind < 0.5:
        subtype = rng.choice(["mixed", "alternative", "digest"])
        headers.append(f"Content-Type: multipart/{subtype}; boundary=" + rng.choice([boundary, f'"{boundary}"']))
        if rng.random() < 0.05:
            headers.append("Content-Transfer-Encoding: base64")
        body = rng.choice(["", "", "preamble" + eol, eol])
        for _ in range(rng.randint(0, 3)):
            body += f"--{boundary}" + rng.choice(["", "", " ", "\t", "x", "--x"]) + eol
            if rng.random() < 0.05:
                body += f"--{boundary}{eol}"
            body += generated(rng, depth + 1) + rng.choice([eol, eol, eol, ""])
        if rng.random() < 0.85:
            body += f"--{boundary}--" + rng.choice(["", " "]) + rng.choice([eol, eol, ""])
        body += rng.choice(["", "", "epilogue", eol, f"e{eol}f"])
    elif kind < 0.55:
        headers.append("Content-Type: message/rfc822")
        body = generated(rng, depth + 1)
    else:
        headers.append("Content-Type: " + rng.choice(["text/plain", "text/html", "application/octet-stream"]))
        body = rng.choice(
            ["", "hello", f"one{eol}two{eol}", f"--{boundary}{eol}", f"--b0{eol}", "lone\rcr", eol, "\xe9\xff"]
        )
    head = eol.join(headers) + eol
    return head if rng.random() < 0.05 else head + eol + body


def test_random_structures_give_the_stdlib_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    whole_parses = 0

    def counted(raw: bytes, **kwargs: Any) -> Message:
        nonlocal whole_parses
        whole_parses += 1
        return message_from_bytes(raw, **kwargs)

    monkeypatch.setattr(tree, "message_from_bytes", counted)
    rng = random.Random(20261125)
    for _ in range(3000):
        raw = generated(rng).encode("latin-1")
        assert structure(read_tree(raw)) == stdlib(raw), raw
    assert 500 < whole_parses < 2500, "both the split and the feed parser's path must be taken"


@pytest.mark.parametrize(
    "build",
    [f for name, f in inspect.getmembers(mail_corpus, inspect.isfunction) if name.islower() and name != "lines"],
)
def test_hostile_messages_give_the_stdlib_tree(build: Any) -> None:
    raw = build()
    assert structure(read_tree(raw)) == stdlib(raw)


def test_well_formed_mail_is_split_without_the_feed_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    mail = EmailMessage()
    mail["Subject"] = "Report"
    mail.set_content("Dear team,\n\nthe figures.\n")
    mail.add_alternative("<p>Dear team,</p><p>the figures.</p>", subtype="html")
    mail.add_attachment(bytes(range(256)) * 400, maintype="application", subtype="pdf", filename="q3.pdf")
    for raw in (mail.as_bytes(), mail.as_bytes().replace(b"\n", b"\r\n")):
        expected = stdlib(raw)

        def refuse(raw: bytes, **kwargs: Any) -> Message:
            raise AssertionError("the feed parser was used")

        monkeypatch.setattr(tree, "message_from_bytes", refuse)
        assert structure(read_tree(raw)) == expected
        monkeypatch.undo()


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"])
def test_base64_sizes_are_counted_exactly(line_end: bytes) -> None:
    for size in [*range(0, 100), 4096, 100_003]:
        data = random.Random(size).randbytes(size)
        encoded = base64.encodebytes(data).replace(b"\n", line_end).decode()
        assert base64_size(encoded) == size
