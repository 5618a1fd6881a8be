"""Mailboxes, messages and threads of the caller's tenant, and the changes a client makes to a message."""

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from msgspec import UNSET

from application.messages.changes import ChangeFlags, DeleteMessage, MoveMessage
from application.messages.mailboxes import ListMailboxes
from application.messages.read import GetAttachment, GetMessage, GetRawMessage, GetThread, HtmlDisplay
from application.messages.search import SearchMessages
from domain.auth import Principal
from domain.pagination import MAX_PAGE_SIZE
from domain.search import Cursor, MessageQuery, PageAfter
from entrypoints.http.openapi import problems
from entrypoints.http.schemas.messages import (
    FlagsPatch,
    JobQueued,
    MailboxList,
    MailboxOut,
    MessageOut,
    MessagePage,
    MessageSummaryOut,
    MoveIn,
    ThreadOut,
)

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
Unread = Annotated[bool | None, QueryParameter(description="true: only unread; false: only read")]
Flagged = Annotated[bool | None, QueryParameter(description="true: only flagged; false: only not flagged")]
CursorParam = Annotated[str | None, QueryParameter(description="next_cursor of the previous page")]
RemoteImages = Annotated[
    bool,
    QueryParameter(
        description="false: remote images of the HTML body lose their `src` (their URL stays in `data-remote-src`), "
        "so showing the message tells its sender nothing"
    ),
]
DOWNLOAD_HEADERS = {"Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff"}
"""On what the sender wrote, served as is: a browser that opens it runs no script, loads nothing and does not guess
a more dangerous type than the one given."""
_SAFE_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9 ._()-]")


def page_after(limit: int, cursor: str | None, query: MessageQuery) -> PageAfter:
    return PageAfter(limit, Cursor.decode(cursor, query.by_relevance) if cursor else None)


class AccountMailController(Controller):
    path = "/api/accounts/{account_id:uuid}"

    @get(
        "/mailboxes",
        tags=["mailboxes"],
        operation_id="listMailboxes",
        summary="The account's folders with their message and unread counts",
        description="Every folder the last sync found, with its role (inbox, sent, drafts, trash, ...) when the "
        "server names one (RFC 6154).",
        responses=problems(404),
    )
    @inject
    async def mailboxes(
        self, account_id: FromPath[UUID], principal: FromDishka[Principal], list_mailboxes: FromDishka[ListMailboxes]
    ) -> MailboxList:
        return MailboxList(items=[MailboxOut.of(m) for m in await list_mailboxes(principal, account_id)])

    @get(
        "/messages",
        tags=["messages"],
        operation_id="listMessages",
        summary="The account's messages, newest first, a page at a time",
        description="Summaries without bodies. Pass `next_cursor` back as `cursor` for the next page; a cursor is "
        "only valid with the same filters.",
        responses=problems(404),
    )
    @inject
    async def messages(
        self,
        account_id: FromPath[UUID],
        principal: FromDishka[Principal],
        search: FromDishka[SearchMessages],
        mailbox: Annotated[UUID | None, QueryParameter(description="a folder id")] = None,
        unread: Unread = None,
        flagged: Flagged = None,
        limit: Limit = 50,
        cursor: CursorParam = None,
    ) -> MessagePage:
        query = MessageQuery(
            principal.tenant_id, account_id=account_id, mailbox_id=mailbox, unread=unread, flagged=flagged
        )
        return MessagePage.of(await search(principal, query, page_after(limit, cursor, query)))


class MessageController(Controller):
    path = "/api/messages/{message_id:uuid}"
    tags = ["messages"]

    @get(
        operation_id="getMessage",
        summary="A whole message: headers, addresses, text, sanitised HTML, attachments",
        description="The HTML is sanitised (no scripts, handlers, forms or frames); `remote_images=false` keeps "
        "remote images from loading. The original is at `/raw`.",
        responses=problems(404),
    )
    @inject
    async def message(
        self,
        message_id: FromPath[UUID],
        principal: FromDishka[Principal],
        get_message: FromDishka[GetMessage],
        remote_images: RemoteImages = True,
    ) -> MessageOut:
        view = await get_message(principal, message_id, HtmlDisplay(attachment_url, remote_images))
        return MessageOut.of(view.message, view.html)

    @get(
        "/raw",
        operation_id="getRawMessage",
        summary="The original RFC 5322 bytes",
        description="The message as the server delivered it, as a download.",
        media_type="message/rfc822",
        responses=problems(404),
    )
    @inject
    async def raw(
        self, message_id: FromPath[UUID], principal: FromDishka[Principal], get_raw: FromDishka[GetRawMessage]
    ) -> Stream:
        return Stream(await get_raw(principal, message_id), media_type="message/rfc822", headers=DOWNLOAD_HEADERS)

    @get(
        "/attachments/{attachment_id:uuid}",
        operation_id="getAttachment",
        summary="An attachment's content, as a download",
        description="Served with its own content type when it is a safe one, else `application/octet-stream`, "
        "and always as an attachment with a sandboxing Content-Security-Policy.",
        responses=problems(404),
    )
    @inject
    async def attachment(
        self,
        message_id: FromPath[UUID],
        attachment_id: FromPath[UUID],
        principal: FromDishka[Principal],
        get_attachment: FromDishka[GetAttachment],
    ) -> Stream:
        content = await get_attachment(principal, message_id, attachment_id)
        media_type = content.attachment.content_type.lower()
        return Stream(
            _chunks(content.data),
            media_type=media_type if _SAFE_TYPE.match(media_type) else "application/octet-stream",
            headers={
                "Content-Disposition": content_disposition(content.attachment.filename or "attachment"),
                "Content-Length": str(len(content.data)),
                **DOWNLOAD_HEADERS,
            },
        )

    @patch(
        operation_id="updateMessageFlags",
        summary="Mark seen or flagged; written back to the IMAP server by a job",
        description="The stored message changes at once and is answered; a job sets the flags on the server. Name "
        "`seen`, `flagged` or both.",
        responses=problems(404),
    )
    @inject
    async def change_flags(
        self,
        message_id: FromPath[UUID],
        data: JSONBody[FlagsPatch],
        principal: FromDishka[Principal],
        change: FromDishka[ChangeFlags],
        remote_images: RemoteImages = True,
    ) -> MessageOut:
        seen = None if data.seen is UNSET else data.seen
        flagged = None if data.flagged is UNSET else data.flagged
        view = await change(principal, message_id, seen, flagged, HtmlDisplay(attachment_url, remote_images))
        return MessageOut.of(view.message, view.html)

    @post(
        "/move",
        status_code=202,
        operation_id="moveMessage",
        summary="Move to another folder of the account (done by a job)",
        description="The job moves the message on the server, then in the store; the answer names the job.",
        responses=problems(404),
    )
    @inject
    async def move(
        self,
        message_id: FromPath[UUID],
        data: JSONBody[MoveIn],
        principal: FromDishka[Principal],
        move: FromDishka[MoveMessage],
    ) -> JobQueued:
        return JobQueued(job_id=await move(principal, message_id, data.mailbox_id))

    @delete(
        status_code=202,
        operation_id="deleteMessage",
        summary="Move to the Trash, or delete for good from the Trash (done by a job)",
        description="A message outside the Trash moves there; one in the Trash (or of an account without one) is "
        "expunged from the server.",
        responses=problems(404),
    )
    @inject
    async def delete_message(
        self, message_id: FromPath[UUID], principal: FromDishka[Principal], remove: FromDishka[DeleteMessage]
    ) -> JobQueued:
        return JobQueued(job_id=await remove(principal, message_id))


class ThreadController(Controller):
    path = "/api/threads"
    tags = ["threads"]

    @get(
        "/{thread_id:uuid}",
        operation_id="getThread",
        summary="The messages of a thread, oldest first",
        description="Every stored message of the conversation, across the account's folders.",
        responses=problems(404),
    )
    @inject
    async def thread(
        self, thread_id: FromPath[UUID], principal: FromDishka[Principal], get_thread: FromDishka[GetThread]
    ) -> ThreadOut:
        messages = await get_thread(principal, thread_id)
        return ThreadOut(thread_id=thread_id, items=[MessageSummaryOut.of(m) for m in messages])


SearchText = Annotated[str | None, QueryParameter(description='full text: words, "phrases", OR, -word')]


@get(
    "/api/sync/search",
    tags=["messages"],
    operation_id="searchMessages",
    summary="Search messages (path kept from the replaced service)",
    description='Full text in web search syntax (`q`: words, "phrases", OR, -word) over subject, addresses and '
    "body, by relevance, and filters on sender, recipient, subject, folder, dates and flags, newest first "
    "without `q`. Pages as `listMessages` does.",
    responses=problems(404),
)
@inject
async def search_messages(
    principal: FromDishka[Principal],
    search: FromDishka[SearchMessages],
    q: SearchText = None,
    sender: Annotated[str | None, QueryParameter(name="from", description="part of a From name or address")] = None,
    to: Annotated[str | None, QueryParameter(description="part of a To, Cc or Bcc name or address")] = None,
    subject: Annotated[str | None, QueryParameter(description="part of the subject")] = None,
    account_id: Annotated[UUID | None, QueryParameter(description="only this account's messages")] = None,
    mailbox_id: Annotated[UUID | None, QueryParameter(description="only this folder's messages")] = None,
    since: Annotated[datetime | None, QueryParameter(description="received at or after")] = None,
    before: Annotated[datetime | None, QueryParameter(description="received before")] = None,
    unread: Unread = None,
    flagged: Flagged = None,
    has_attachments: Annotated[bool | None, QueryParameter(description="with or without attachments")] = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> MessagePage:
    query = MessageQuery(
        principal.tenant_id,
        account_id=account_id,
        mailbox_id=mailbox_id,
        text=q,
        sender=sender,
        recipient=to,
        subject=subject,
        since=since,
        before=before,
        unread=unread,
        flagged=flagged,
        has_attachments=has_attachments,
    )
    return MessagePage.of(await search(principal, query, page_after(limit, cursor, query)))


def attachment_url(message_id: UUID, attachment_id: UUID) -> str:
    """Where `MessageController.attachment` serves a part; `cid:` images of the sanitised HTML point here."""
    return f"/api/messages/{message_id}/attachments/{attachment_id}"


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback without quotes, slashes or control characters, and the real name encoded."""
    fallback = _UNSAFE_NAME.sub("_", filename)[:150] or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename[:200], safe='')}"


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
