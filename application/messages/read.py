from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from uuid import UUID

from application.access.reach import reach_of
from domain.access import Reach
from domain.auth import Principal
from domain.errors import NotFound
from domain.html import HtmlPolicy, SafeHtml
from domain.messages import Attachment, Message, MessageSummary
from domain.ports.html import HtmlSanitizer
from domain.ports.mail import MessageParser
from domain.ports.persistence import UnitOfWork
from domain.ports.storage import BlobStore


async def owned_message(uow: UnitOfWork, principal: Principal, message_id: UUID, needed: Reach = Reach.READ) -> Message:
    """A message of an account the caller reaches (as far as `needed`); NotFound otherwise, as for another
    tenant's."""
    async with uow:
        return await reachable_message(uow, principal, message_id, needed)


async def reachable_message(uow: UnitOfWork, principal: Principal, message_id: UUID, needed: Reach) -> Message:
    message = await uow.messages.get(principal.tenant_id, message_id)
    if message is None:
        raise NotFound("message not found")
    (await reach_of(uow, principal, message.account_id)).require(message.account_id, needed, "message")
    return message


@dataclass(frozen=True, slots=True)
class HtmlDisplay:
    """How the client shows a message's HTML: `attachment_url(message_id, attachment_id)` is where a part is
    served, for the `cid:` images that name it; `remote_images` says whether http(s) images keep their source."""

    attachment_url: Callable[[UUID, UUID], str]
    remote_images: bool = True


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message with its HTML body as a client may show it (None when it has no HTML part)."""

    message: Message
    html: SafeHtml | None


class ShowHtml:
    """Sanitised HTML in place of what a message's sender or a draft's writer wrote (domain.html says why)."""

    def __init__(self, sanitizer: HtmlSanitizer) -> None:
        self._sanitizer = sanitizer

    async def __call__(self, html: str | None, policy: HtmlPolicy | None = None) -> SafeHtml | None:
        return None if html is None else await self._sanitizer.sanitize(html, policy or HtmlPolicy())


class ViewMessage:
    """A message's `cid:` images resolve to its own parts only (RFC 2392: a Content-ID names a body part of the
    same message); the original HTML stays reachable through the raw message."""

    def __init__(self, show_html: ShowHtml) -> None:
        self._show_html = show_html

    async def __call__(self, message: Message, display: HtmlDisplay) -> MessageView:
        inline = {a.content_id: display.attachment_url(message.id, a.id) for a in message.attachments if a.content_id}
        html = await self._show_html(message.html_body, HtmlPolicy(display.remote_images, inline))
        return MessageView(message, html)


class GetMessage:
    def __init__(self, uow: UnitOfWork, view: ViewMessage) -> None:
        self._uow = uow
        self._view = view

    async def __call__(self, principal: Principal, message_id: UUID, display: HtmlDisplay) -> MessageView:
        return await self._view(await owned_message(self._uow, principal, message_id), display)


class GetRawMessage:
    """The original RFC 5322 bytes, streamed from the blob store (not from the IMAP server)."""

    def __init__(self, uow: UnitOfWork, blobs: BlobStore) -> None:
        self._uow = uow
        self._blobs = blobs

    async def __call__(self, principal: Principal, message_id: UUID) -> AsyncIterator[bytes]:
        message = await owned_message(self._uow, principal, message_id)
        if message.raw_blob_key is None:
            raise NotFound("the original of this message was not downloaded (over the size limit)")
        chunks = self._blobs.stream(principal.tenant_id, message.raw_blob_key)
        first = await anext(chunks, b"")  # a missing blob is a NotFound now, before the answer starts

        async def whole() -> AsyncIterator[bytes]:
            yield first
            async for chunk in chunks:
                yield chunk

        return whole()


@dataclass(frozen=True, slots=True)
class AttachmentContent:
    attachment: Attachment
    data: bytes


class GetAttachment:
    """An attachment's decoded bytes, cut out of the stored original message."""

    def __init__(self, uow: UnitOfWork, blobs: BlobStore, parser: MessageParser) -> None:
        self._uow = uow
        self._blobs = blobs
        self._parser = parser

    async def __call__(self, principal: Principal, message_id: UUID, attachment_id: UUID) -> AttachmentContent:
        message = await owned_message(self._uow, principal, message_id)
        attachment = next((a for a in message.attachments if a.id == attachment_id), None)
        if attachment is None or message.raw_blob_key is None:
            raise NotFound("attachment not found")
        data = self._parser.extract(await self._blobs.get(principal.tenant_id, message.raw_blob_key), attachment.part)
        if data is None:
            raise NotFound("attachment not found")
        return AttachmentContent(attachment, data)


class GetThread:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, thread_id: UUID) -> list[MessageSummary]:
        """A thread lives within one account (the sync threads an account's messages only), so reaching its first
        message's account is reaching it."""
        async with self._uow as uow:
            messages = await uow.messages.thread(principal.tenant_id, thread_id)
            if not messages:
                raise NotFound("thread not found")
            account_id = messages[0].account_id
            (await reach_of(uow, principal, account_id)).require(account_id, Reach.READ, "thread")
        return messages
