"""Turns what a client sent into a draft's content: defaults from the account, reply and forward headers from
the original message, attachment bytes into the blob store."""

from typing import TypeVar
from uuid import UUID

from application.access.reach import reach_of
from application.compose.commands import ComposeRequest, KeptAttachment, NewAttachment
from domain.access import AccountReach
from domain.accounts import MailAccount
from domain.auth import Principal
from domain.drafts import DraftAttachment, DraftContent
from domain.errors import InvalidInput, NotFound, TooLarge
from domain.ids import new_id
from domain.messages import Address, Message
from domain.ports.persistence import UnitOfWork
from domain.ports.storage import BlobStore
from domain.replies import forward_filename, forward_subject, reply_recipients, reply_references, reply_subject
from domain.validation import require_header_text, require_media_type

T = TypeVar("T")


class DraftWriter:
    def __init__(self, blobs: BlobStore, max_message_bytes: int) -> None:
        self._blobs = blobs
        self._max_bytes = max_message_bytes

    async def originals(self, uow: UnitOfWork, principal: Principal, request: ComposeRequest) -> dict[str, Message]:
        """The messages a reply or forward names; one of an account the caller does not reach (or of another
        tenant) is not found: forwarding it would read it."""
        found: dict[str, Message] = {}
        reach: AccountReach | None = None
        for name, message_id in (("in_reply_to", request.in_reply_to), ("forward_of", request.forward_of)):
            if message_id is not None:
                message = await uow.messages.get(principal.tenant_id, message_id)
                reach = reach or await reach_of(uow, principal)
                if message is None or reach.of(message.account_id) is None:
                    raise NotFound(f"{name}: message not found")
                found[name] = message
        return found

    async def content(
        self,
        request: ComposeRequest,
        account: MailAccount,
        originals: dict[str, Message],
        current: DraftContent | None = None,
    ) -> DraftContent:
        reply, forward = originals.get("in_reply_to"), originals.get("forward_of")
        subject = request.subject
        if subject is None and reply is not None:
            subject = reply_subject(reply.subject)
        elif subject is None and forward is not None:
            subject = forward_subject(forward.subject)
        elif subject is None:
            subject = current.subject if current else ""
        to = request.to if request.to is not None else (current.to if current else ())
        if not to and reply is not None:
            to = reply_recipients(reply)
        sender = request.sender or (
            current.sender if current and request.account_id is None else Address(account.name, account.email)
        )
        account.require_sender(sender.address)
        in_reply_to, references = (current.in_reply_to, current.references) if current else (None, ())
        if reply is not None:
            in_reply_to, references = reply.message_id, reply_references(reply)
        attachments = await self._attachments(account.tenant_id, request, current)
        if forward is not None:
            attachments = (*attachments, await self._forwarded(forward))
        content = DraftContent(
            sender=sender,
            to=to,
            cc=_given(request.cc, current.cc if current else ()),
            bcc=_given(request.bcc, current.bcc if current else ()),
            subject=subject,
            text=_given(request.text, current.text if current else None),
            html=_given(request.html, current.html if current else None),
            in_reply_to=in_reply_to,
            references=references,
            attachments=attachments,
        )
        body_bytes = len((content.text or "").encode()) + len((content.html or "").encode())
        if content.attachment_bytes + body_bytes > self._max_bytes:
            raise TooLarge(f"the message would be over the limit of {self._max_bytes} bytes")
        return content

    async def _attachments(
        self, tenant_id: UUID, request: ComposeRequest, current: DraftContent | None
    ) -> tuple[DraftAttachment, ...]:
        if request.attachments is None:
            return current.attachments if current else ()
        kept = {a.id: a for a in current.attachments} if current else {}
        new = [(i, a) for i, a in enumerate(request.attachments) if isinstance(a, NewAttachment)]
        for index, attachment in new:
            require_header_text(f"attachments.{index}.filename", attachment.filename, max_length=255)
            require_media_type(f"attachments.{index}.content_type", attachment.content_type)
        if sum(len(a.data) for _, a in new) > self._max_bytes:
            raise TooLarge(f"the attachments are over the limit of {self._max_bytes} bytes")
        keys = iter(await self._blobs.put_many(tenant_id, [a.data for _, a in new]))
        result = []
        for index, item in enumerate(request.attachments):
            if isinstance(item, KeptAttachment):
                if item.id not in kept:
                    raise InvalidInput(f"attachments.{index}.id", "not an attachment of this draft")
                result.append(kept[item.id])
            else:
                result.append(DraftAttachment(new_id(), item.filename, item.content_type, len(item.data), next(keys)))
        return tuple(result)

    async def _forwarded(self, original: Message) -> DraftAttachment:
        """The original's bytes are put again rather than its key reused: the draft is committed in a later
        transaction than the one that read the message, and the put keeps the blob from garbage collection
        if the message is deleted in between (application.blobs.collect)."""
        if original.raw_blob_key is None:
            raise InvalidInput("forward_of", "the original message was not downloaded (over the size limit)")
        try:
            data = await self._blobs.get(original.tenant_id, original.raw_blob_key)
        except NotFound:
            raise NotFound("forward_of: the original message is no longer stored") from None
        key = await self._blobs.put(original.tenant_id, data)
        return DraftAttachment(new_id(), forward_filename(original.subject), "message/rfc822", original.size, key)


def _given(value: T | None, default: T) -> T:
    return default if value is None else value
