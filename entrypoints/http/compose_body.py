"""Reads a compose request: a JSON document, or multipart/form-data whose text fields carry the same names
(`to`, `cc`, `bcc` repeated or comma-separated) and whose file parts are attachments, for files too large to
send as base64 in JSON."""

import binascii
from base64 import b64decode
from email.utils import getaddresses
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, ValidationException
from msgspec import UnsetType

from application.compose.commands import ComposeRequest, KeptAttachment, NewAttachment
from domain.errors import InvalidInput
from domain.messages import Address
from domain.validation import require_header_text
from entrypoints.http.schemas.compose import AttachmentIn, ComposeIn, RecipientIn

_LISTS = ("to", "cc", "bcc")


async def read_compose(request: Request[Any, Any, Any]) -> tuple[ComposeIn, ComposeRequest]:
    media_type = request.content_type[0]
    if media_type == "application/json":
        raw = _require(await request.body())
        body = _decode(lambda: msgspec.json.decode(raw, type=ComposeIn))
        return body, compose_request(body, [])
    if media_type == "multipart/form-data":
        form = await request.form()
        fields: dict[str, Any] = {}
        files: list[NewAttachment] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                files.append(NewAttachment(value.filename or "attachment", value.content_type or "", data))
            elif name in _LISTS:
                fields.setdefault(name, []).extend(a for _, a in getaddresses([value]) if a)
            else:
                fields[name] = value
        body = _decode(lambda: msgspec.convert(fields, ComposeIn, strict=False))
        return body, compose_request(body, files)
    raise HTTPException(status_code=415, detail="send application/json or multipart/form-data")


def compose_request(body: ComposeIn, files: list[NewAttachment]) -> ComposeRequest:
    attachments: list[NewAttachment | KeptAttachment] | None = None
    if not isinstance(body.attachments, UnsetType) or files:
        given = [] if isinstance(body.attachments, UnsetType) else body.attachments
        attachments = [_attachment(i, a) for i, a in enumerate(given)] + [
            NewAttachment(f.filename, f.content_type or "application/octet-stream", f.data) for f in files
        ]
    return ComposeRequest(
        account_id=_given(body.account_id),
        sender=None if isinstance(body.sender, UnsetType) else _address("from", body.sender),
        to=_addresses("to", body.to),
        cc=_addresses("cc", body.cc),
        bcc=_addresses("bcc", body.bcc),
        subject=_given(body.subject),
        text=_given(body.text),
        html=_given(body.html),
        attachments=None if attachments is None else tuple(attachments),
        in_reply_to=_given(body.in_reply_to),
        forward_of=_given(body.forward_of),
    )


def _given(value: Any) -> Any:
    return None if isinstance(value, UnsetType) else value


def _address(field: str, value: RecipientIn | str) -> Address:
    """A string is one `Name <address>` or bare address. It is checked before it is parsed: `parseaddr` would
    quietly pick an address out of `Eve\nBcc: x@example.org <eve@example.org>`."""
    if isinstance(value, RecipientIn):
        return Address(value.name, value.address)
    require_header_text(field, value, max_length=500)
    found = getaddresses([value])
    if len(found) != 1 or not found[0][1]:
        raise InvalidInput(field, "must be one email address, e.g. Bob <bob@example.com>")
    name, address = found[0]
    return Address(name, address)


def _addresses(field: str, values: list[RecipientIn | str] | UnsetType) -> tuple[Address, ...] | None:
    if isinstance(values, UnsetType):
        return None
    return tuple(_address(f"{field}.{i}", value) for i, value in enumerate(values))


def _attachment(index: int, item: AttachmentIn) -> NewAttachment | KeptAttachment:
    if not isinstance(item.id, UnsetType):
        return KeptAttachment(item.id)
    if isinstance(item.filename, UnsetType) or isinstance(item.content_base64, UnsetType):
        raise InvalidInput(f"attachments.{index}", "give `id`, or `filename` and `content_base64`")
    try:
        data = b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"attachments.{index}.content_base64", "must be base64") from None
    return NewAttachment(item.filename, item.content_type, data)


def _require(body: bytes) -> bytes:
    if not body:
        raise InvalidInput("body", "a JSON document is required")
    return body


def _decode(decode: Any) -> ComposeIn:
    try:
        result: ComposeIn = decode()
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ValidationException(extra=[{"message": str(error), "key": "body"}]) from None
    return result
