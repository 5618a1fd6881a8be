"""Builds outgoing messages with the stdlib `EmailMessage` under the SMTP policy (CRLF, RFC 2047 encoded
headers, RFC 2231 file names), then checks what it built: the email package has turned crafted header values
into extra headers before (CVE-2024-6923, CVE-2026-1299), so the headers of the result are read back and must
be exactly the ones set here."""

import re
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime

from domain.drafts import DraftContent
from domain.errors import InvalidInput
from domain.messages import Address
from domain.ports.mail import MessageComposer

_POLICY = policy.SMTP
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_ALLOWED_HEADERS = {
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


class StdlibMessageComposer(MessageComposer):
    def compose(self, content: DraftContent, message_id: str, date: datetime, attachments: Sequence[bytes]) -> bytes:
        message = EmailMessage(policy=_POLICY)
        message["From"] = _address(content.sender)
        for name, addresses in (("To", content.to), ("Cc", content.cc)):
            if addresses:
                message[name] = [_address(a) for a in addresses]
        message["Subject"] = content.subject
        message["Date"] = format_datetime(date)
        message["Message-ID"] = message_id
        if content.in_reply_to:
            message["In-Reply-To"] = content.in_reply_to
        if content.references:
            message["References"] = " ".join(content.references)
        _set_body(message, content)
        for attachment, data in zip(content.attachments, attachments, strict=True):
            if attachment.content_type.lower() == "message/rfc822":
                message.add_attachment(BytesParser(policy=_POLICY).parsebytes(data), filename=attachment.filename)
            else:
                maintype, subtype = attachment.content_type.split("/", 1)
                message.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment.filename)
        raw = _LINE_ENDS.sub(b"\r\n", message.as_bytes(policy=_POLICY))
        _require_own_headers(raw)
        return raw

    def sent_copy(self, message: bytes, bcc: Sequence[Address]) -> bytes:
        if not bcc:
            return message
        header = EmailMessage(policy=_POLICY)
        header["Bcc"] = [_address(a) for a in bcc]
        lines = _LINE_ENDS.sub(b"\r\n", header.as_bytes(policy=_POLICY)).rstrip(b"\r\n") + b"\r\n"
        if [name.lower() for name in BytesHeaderParser(policy=policy.compat32).parsebytes(lines)] != ["bcc"]:
            raise InvalidInput("bcc", "a header value could not be written safely")
        return lines + message


def _address(address: Address) -> HeaderAddress:
    return HeaderAddress(display_name=address.name, addr_spec=address.address)


def _set_body(message: EmailMessage, content: DraftContent) -> None:
    if content.text is not None and content.html is not None:
        message.set_content(content.text)
        message.add_alternative(content.html, subtype="html")
    elif content.html is not None:
        message.set_content(content.html, subtype="html")
    else:
        message.set_content(content.text or "")


def _require_own_headers(raw: bytes) -> None:
    """Bare LF is already gone (SMTP smuggling, CVE-2023-51764); here no header may be one this module did not
    write, and none may appear twice."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw).keys()
    names = [name.lower() for name in headers]
    if len(names) != len(set(names)) or not set(names) <= _ALLOWED_HEADERS:
        raise InvalidInput("subject", "a header value could not be written safely")
