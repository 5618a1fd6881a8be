"""Reading a message into the same compat32 tree as `email.message_from_bytes`, in less time."""

from email import message_from_bytes, policy
from email.message import Message
from email.parser import Parser
from itertools import pairwise
from typing import NamedTuple

_HEADERS = Parser(policy=policy.compat32)
_PLAIN_ENCODINGS = frozenset({"7bit", "8bit", "binary"})


class _Unsplittable(Exception):
    """The message has something only the feed parser handles exactly."""


class _BoundaryLine(NamedTuple):
    start: int
    end: int
    closing: bool


def read_tree(raw: bytes) -> Message:
    """The tree `message_from_bytes(raw, policy=compat32)` builds, with multipart bodies cut at their boundary
    lines by string searches.

    The feed parser pushes every line of every part through a queue, matches each against a boundary pattern
    it compiles anew for each multipart, and joins the lines again: work for every line, of which a base64
    attachment has thousands. Here each part's headers still go through the stdlib
    parser and its body becomes its payload in one slice. A message whose structure is not plain (a defect
    in any part's headers, message/* or multipart/digest parts, lone CR line ends, a missing or repeated
    boundary line) is given to the feed parser whole, so the tree is always the one the stdlib builds
    (`tests/unit/adapters/mime/test_tree.py` compares the two).
    """
    text = raw.decode("ascii", "surrogateescape")
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return message_from_bytes(raw, policy=policy.compat32)
    try:
        return _message(text)
    except _Unsplittable:
        return message_from_bytes(raw, policy=policy.compat32)


def _message(text: str) -> Message:
    head_end, body_start = _header_end(text)
    message = _HEADERS.parsestr(text[:head_end], headersonly=True)
    if message.defects or message.get_payload():
        raise _Unsplittable
    if message.get_content_maintype() == "message" or message.get_content_type() == "multipart/digest":
        raise _Unsplittable
    body = text[body_start:]
    if message.get_content_maintype() == "multipart":
        _split(message, body)
    else:
        message.set_payload(body)
    return message


def _header_end(text: str) -> tuple[int, int]:
    """Where the header block ends and where the body starts: around the first empty line."""
    if text.startswith("\n"):
        return 0, 1
    if text.startswith("\r\n"):
        return 0, 2
    crlf = text.find("\n\r\n")
    lf = text.find("\n\n", 0, None if crlf == -1 else crlf + 1)
    if lf != -1:
        return lf + 1, lf + 2
    if crlf != -1:
        return crlf + 1, crlf + 3
    raise _Unsplittable


def _split(message: Message, body: str) -> None:
    """The feed parser's multipart reading (RFC 2046 section 5.1.1): the line end before a boundary line
    belongs to the boundary, and text after the closing line is the epilogue."""
    boundary = message.get_boundary()
    encoding = str(message.get("content-transfer-encoding", "8bit")).lower()
    if not boundary or encoding not in _PLAIN_ENCODINGS:
        raise _Unsplittable
    lines = _boundary_lines(body, "--" + boundary)
    if not lines or lines[0].closing or not lines[-1].closing:
        raise _Unsplittable
    if lines[0].start:
        message.preamble = _without_eol(body[: lines[0].start])
    parts: list[Message | str] = []
    for line, following in pairwise(lines):
        if line.end == following.start:
            raise _Unsplittable
        part = _message(body[line.end : following.start])
        payload = part.get_payload()
        if isinstance(payload, str):
            part.set_payload(_without_eol(payload))
        else:
            part.epilogue = _without_eol(part.epilogue) if part.epilogue else None
        parts.append(part)
    message.set_payload(parts)
    message.epilogue = body[lines[-1].end :]


def _boundary_lines(body: str, separator: str) -> list[_BoundaryLine]:
    """Each line that is the separator, maybe `--`, maybe blanks, up to and with the closing one."""
    found: list[_BoundaryLine] = []
    at = body.find(separator)
    while at != -1:
        if at == 0 or body[at - 1] == "\n":
            after = at + len(separator)
            closing = body.startswith("--", after)
            end = after + 2 if closing else after
            while end < len(body) and body[end] in " \t":
                end += 1
            line_end = _line_end(body, end)
            if line_end is not None:
                found.append(_BoundaryLine(at, line_end, closing))
                if closing:
                    return found
        at = body.find(separator, at + 1)
    return found


def _line_end(text: str, at: int) -> int | None:
    if at == len(text):
        return at
    if text[at] == "\n":
        return at + 1
    return at + 2 if text.startswith("\r\n", at) else None


def _without_eol(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text
