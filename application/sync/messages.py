import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from domain.accounts import MailAccount
from domain.ids import new_id
from domain.mailboxes import Mailbox
from domain.messages import Attachment, Message
from domain.parsed import ParsedMessage, thread_id_for
from domain.ports.mail import MessageParser
from domain.ports.persistence import UnitOfWork
from domain.ports.storage import BlobStore
from domain.remote import FetchedMessage

_EMPTY = b"\r\n"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A fetched message, parsed, its raw bytes stored: all of it but the database work."""

    fetched: FetchedMessage
    content: ParsedMessage
    blob_key: str | None


class MessageBuilder:
    """Turns fetched IMAP messages into stored Messages in two steps. `prepare` parses and keeps the raw bytes in
    the blob store (the two at once, a batch at a time: parsing is CPU work, writing files mostly waits on the
    disk) and needs no database, so it can run while the previous batch is being written; `build` places each
    message in its thread."""

    def __init__(self, parser: MessageParser, blobs: BlobStore) -> None:
        self._parser = parser
        self._blobs = blobs

    async def prepare(self, tenant_id: UUID, fetched: Sequence[FetchedMessage]) -> list[Prepared]:
        downloaded = [f.raw for f in fetched if f.raw is not None]
        parsed, blob_keys = await asyncio.gather(
            self._parser.parse_many([f.raw or _EMPTY for f in fetched]), self._blobs.put_many(tenant_id, downloaded)
        )
        keys = iter(blob_keys)
        return [
            Prepared(item, content, next(keys) if item.raw is not None else None)
            for item, content in zip(fetched, parsed, strict=True)
        ]

    async def build(
        self, uow: UnitOfWork, account: MailAccount, mailbox: Mailbox, prepared: Sequence[Prepared]
    ) -> list[Message]:
        messages = []
        batch_threads: dict[str, UUID] = {}
        for item in prepared:
            thread_id = await self._thread(uow, account, item.content, batch_threads)
            if item.content.message_id:
                batch_threads[item.content.message_id] = thread_id
            messages.append(self._message(account, mailbox, item.fetched, item.content, item.blob_key, thread_id))
        return messages

    @staticmethod
    async def _thread(
        uow: UnitOfWork, account: MailAccount, content: ParsedMessage, batch_threads: dict[str, UUID]
    ) -> UUID:
        """A reply that names only its parent (no References) joins the parent's thread, whether the parent
        is already stored or came earlier in this batch."""
        if not content.references and content.in_reply_to:
            parent_thread = batch_threads.get(content.in_reply_to) or await uow.message_store.thread_of(
                account.id, [content.in_reply_to]
            )
            if parent_thread is not None:
                return parent_thread
        return thread_id_for(account.id, content.thread_key) or new_id()

    @staticmethod
    def _message(
        account: MailAccount,
        mailbox: Mailbox,
        item: FetchedMessage,
        content: ParsedMessage,
        blob_key: str | None,
        thread_id: UUID,
    ) -> Message:
        warnings = list(content.warnings)
        if item.raw is None:
            warnings.append(f"not downloaded: {item.size} bytes is over the size limit")
        return Message(
            id=new_id(),
            tenant_id=account.tenant_id,
            account_id=account.id,
            mailbox_id=mailbox.id,
            uid=item.uid,
            thread_id=thread_id,
            message_id=content.message_id,
            subject=content.subject,
            sender=content.sender,
            to=content.to,
            cc=content.cc,
            bcc=content.bcc,
            reply_to=content.reply_to,
            date=content.date,
            internal_date=item.internal_date,
            size=item.size,
            flags=item.flags,
            preview=content.preview,
            in_reply_to=content.in_reply_to,
            references=content.references,
            text_body=content.text_body,
            html_body=content.html_body,
            attachments=[
                Attachment(new_id(), a.filename, a.content_type, a.size, a.content_id, a.inline, a.part)
                for a in content.attachments
            ],
            raw_blob_key=blob_key,
            parse_warnings=warnings,
            modseq=item.modseq,
        )
