import asyncio
from collections.abc import Sequence
from email import message_from_bytes, policy
from email.message import Message

from adapters.mime.headers import address_header, date_header, message_ids, text_header
from adapters.mime.parts import BodyCollector
from adapters.mime.text import html_to_text, preview
from adapters.mime.tree import read_tree
from domain.parsed import AttachmentPart, ParsedMessage
from domain.ports.mail import MessageParser

PREVIEW_CHARS = 200


class StdlibMessageParser(MessageParser):
    """Parses RFC 5322 messages with the stdlib `email` package, keeping whatever can be read.

    Malformed structure, unknown charsets and broken headers become `warnings`; an exception never
    escapes, so one bad message cannot stop a sync. Bodies longer than `max_body_chars` are cut,
    which also keeps them within what a full-text index accepts. The text of an HTML-only message is read
    from the cut HTML, bounded in nesting first (`adapters.mime.html_bounds`), so no body costs more than
    linear time; what the bound left out is a warning.

    The compat32 policy hands headers back as the strings they are, where `policy.default` parses each one read
    into a structured header object; headers are decoded here from their raw values anyway
    (`adapters.mime.headers`), so nothing of `default` is missed.
    """

    def __init__(self, max_body_chars: int = 1_000_000) -> None:
        self._max_body_chars = max_body_chars

    def parse(self, raw: bytes) -> ParsedMessage:
        warnings: list[str] = []
        try:
            message = read_tree(raw)
            return self._read(message, warnings)
        except Exception as error:  # noqa: BLE001 - the contract is: never raise, say what went wrong
            return _unreadable(f"unparseable message ({type(error).__name__})", warnings)

    async def parse_many(self, raws: Sequence[bytes]) -> list[ParsedMessage]:
        return await asyncio.to_thread(lambda: [self.parse(raw) for raw in raws])

    def extract(self, raw: bytes, part: str) -> bytes | None:
        try:
            node = message_from_bytes(raw, policy=policy.compat32)
            for index in (int(n) for n in part.split(".")):
                if node.is_multipart() and node.get_content_type() != "message/rfc822":
                    children = [c for c in node.get_payload() if isinstance(c, Message)]
                    if not 1 <= index <= len(children):
                        return None
                    node = children[index - 1]
                elif index != 1:
                    return None
            if node.get_content_type() == "message/rfc822":
                inner = node.get_payload()
                attached = inner[0] if isinstance(inner, list) and inner else None
                return attached.as_bytes() if isinstance(attached, Message) else None
            payload = node.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
        except Exception:  # noqa: BLE001 - a damaged message has no such part, which is all a caller can act on
            return None

    def _read(self, message: Message, warnings: list[str]) -> ParsedMessage:
        bodies = BodyCollector(warnings)
        bodies.walk(message)
        text, html = bodies.text(), self._cap(bodies.html(), "HTML", warnings)
        if text is None and html is not None:
            text = html_to_text(html, warnings)
        text = self._cap(text, "text", warnings)
        references = message_ids(message, "references", warnings)
        in_reply_to = message_ids(message, "in-reply-to", warnings)
        own_id = message_ids(message, "message-id", warnings)
        if not own_id:
            warnings.append("no Message-ID header")
        warnings.extend(sorted({type(defect).__name__ for defect in _defects(message)}))
        return ParsedMessage(
            subject=text_header(message, "subject", warnings),
            sender=address_header(message, "from", warnings),
            to=address_header(message, "to", warnings),
            cc=address_header(message, "cc", warnings),
            bcc=address_header(message, "bcc", warnings),
            reply_to=address_header(message, "reply-to", warnings),
            date=date_header(message, warnings),
            message_id=own_id[0] if own_id else None,
            in_reply_to=in_reply_to[0] if in_reply_to else None,
            references=references,
            text_body=text,
            html_body=html,
            preview=preview(text or "", PREVIEW_CHARS),
            attachments=bodies.attachments,
            warnings=list(dict.fromkeys(warnings)),
        )

    def _cap(self, body: str | None, kind: str, warnings: list[str]) -> str | None:
        if body is not None and len(body) > self._max_body_chars:
            warnings.append(f"{kind} body cut at {self._max_body_chars} characters")
            return body[: self._max_body_chars]
        return body


def _defects(message: Message) -> list[object]:
    found: list[object] = list(message.defects)
    for part in message.walk():
        if part is not message:
            found.extend(part.defects)
    return found


def _unreadable(reason: str, warnings: list[str]) -> ParsedMessage:
    return ParsedMessage(
        subject="",
        sender=[],
        to=[],
        cc=[],
        bcc=[],
        reply_to=[],
        date=None,
        message_id=None,
        in_reply_to=None,
        references=[],
        text_body=None,
        html_body=None,
        preview="",
        attachments=list[AttachmentPart](),
        warnings=[*warnings, reason],
    )
