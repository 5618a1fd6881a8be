"""Walking the MIME tree: the readable text and HTML bodies, and everything else as attachments."""

from email.message import Message

from adapters.mime.text import decode_bytes, decode_words
from domain.parsed import AttachmentPart


class BodyCollector:
    """Collects inline text/plain and text/html parts as bodies and the other leaves as attachments.

    Parts are numbered as IMAP sections (RFC 3501 section 6.4.5) so an attachment can be fetched alone later.
    An attached message (message/rfc822) is one attachment; its own parts are not walked.
    """

    def __init__(self, warnings: list[str]) -> None:
        self._warnings = warnings
        self._text: list[str] = []
        self._html: list[str] = []
        self.attachments: list[AttachmentPart] = []

    def text(self) -> str | None:
        return "\n".join(self._text) if self._text else None

    def html(self) -> str | None:
        return "\n".join(self._html) if self._html else None

    def walk(self, part: Message, section: str = "") -> None:
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            self._attach(part, section or "1", content_type)
        elif part.is_multipart():
            for index, child in enumerate(part.get_payload()):
                if isinstance(child, Message):
                    self.walk(child, f"{section}.{index + 1}" if section else str(index + 1))
        elif content_type.startswith("multipart/"):
            self._warnings.append("multipart without a usable boundary; read as text")
            self._text.append(self._decode(part))
        elif self._is_body(part, content_type):
            (self._text if content_type == "text/plain" else self._html).append(self._decode(part))
        else:
            self._attach(part, section or "1", content_type)

    @staticmethod
    def _is_body(part: Message, content_type: str) -> bool:
        if content_type not in ("text/plain", "text/html"):
            return False
        return part.get_content_disposition() != "attachment" and not part.get_filename()

    def _decode(self, part: Message) -> str:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else str(part.get_payload()).encode("utf-8", "surrogateescape")
        return decode_bytes(data, part.get_content_charset(), self._warnings).replace("\r\n", "\n")

    def _attach(self, part: Message, section: str, content_type: str) -> None:
        content_id = part.get("content-id")
        self.attachments.append(
            AttachmentPart(
                part=section,
                filename=self._filename(part),
                content_type=content_type,
                size=self._size(part),
                content_id=decode_words(str(content_id), self._warnings).strip("<>") if content_id else None,
                inline=part.get_content_disposition() == "inline",
            )
        )

    def _filename(self, part: Message) -> str | None:
        try:
            name = part.get_filename()
        except (ValueError, LookupError, IndexError):
            self._warnings.append("unreadable attachment filename")
            return None
        if not name:
            return None
        return decode_words(str(name), self._warnings).replace("/", "_").replace("\\", "_") or None

    @staticmethod
    def _size(part: Message) -> int:
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            attached = inner[0] if isinstance(inner, list) and inner else None
            return len(attached.as_bytes()) if isinstance(attached, Message) else 0
        encoded = part.get_payload()
        if isinstance(encoded, str) and str(part.get("content-transfer-encoding", "")).strip().lower() == "base64":
            return base64_size(encoded)
        payload = part.get_payload(decode=True)
        return len(payload) if isinstance(payload, bytes) else 0


def base64_size(encoded: str) -> int:
    """The decoded size of base64 text, counted rather than decoded: only the size is kept, and decoding a whole
    attachment only to count it is wasted work. Exact for well-formed base64; for damaged text, an estimate."""
    digits = len(encoded) - encoded.count("\n") - encoded.count("\r")
    padding = min(encoded.rstrip()[-2:].count("="), 2)
    return max(digits * 3 // 4 - padding, 0)
