"""The jobs that carry a client's change to the IMAP server. Each is safe to run twice (tasks are delivered at
least once): a message already moved, deleted or gone is left alone."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from uuid import UUID

from application.accounts.logins import MailLogins, imap_session
from domain.accounts import MailAccount
from domain.changes import message_deleted, message_moved
from domain.ids import new_id
from domain.mailboxes import Mailbox, MailboxRole
from domain.messages import Message, summary_of
from domain.ports.mail import ImapConnector, ImapSession
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock


@dataclass(frozen=True, slots=True)
class MessageOnServer:
    """A stored message with what it takes to reach it on the IMAP server: its account, the folder it is in,
    and the account's other folders (a move, or a delete to Trash, names one of them)."""

    message: Message
    account: MailAccount
    mailbox: Mailbox
    folders: list[Mailbox]


class _RemoteChange:
    def __init__(self, uow: UnitOfWork, imap: ImapConnector, logins: MailLogins, clock: Clock) -> None:
        self._uow = uow
        self._imap = imap
        self._logins = logins
        self._clock = clock

    async def _locate(self, tenant_id: UUID, message_id: UUID) -> MessageOnServer | None:
        async with self._uow as uow:
            message = await uow.messages.get(tenant_id, message_id)
            if message is None:
                return None
            account = await uow.accounts.get(tenant_id, message.account_id)
            folders = await uow.mailboxes.for_account(tenant_id, message.account_id)
        mailbox = next((f for f in folders if f.id == message.mailbox_id), None)
        if account is None or mailbox is None:
            return None
        return MessageOnServer(message, account, mailbox, folders)

    @asynccontextmanager
    async def _folder(self, located: MessageOnServer) -> AsyncIterator[ImapSession]:
        async with imap_session(self._imap, self._logins, located.account) as imap:
            await imap.open_for_changes(located.mailbox.name)
            yield imap

    async def _move(self, located: MessageOnServer, target: Mailbox) -> None:
        """`message.moved` keeps the message's id. A server without UIDPLUS does not say the new UID: the message
        leaves the store (`message.deleted`) and the next sync of the target brings it back (`message.created`)."""
        message = located.message
        async with self._folder(located) as imap:
            new_uid = await imap.move(message.uid, target.name)
        async with self._uow as uow:
            now = self._clock.now()
            if new_uid is None:
                await uow.message_store.remove(message.tenant_id, message.id)
                uow.changes.record(message_deleted(message.tenant_id, summary_of(message), now, new_id()))
            else:
                await uow.message_store.relocate(message.tenant_id, message.id, target.id, new_uid)
                moved = summary_of(replace(message, mailbox_id=target.id, uid=new_uid))
                uow.changes.record(message_moved(message.tenant_id, moved, message.mailbox_id, now, new_id()))
            await uow.commit()


class WriteFlags(_RemoteChange):
    async def __call__(
        self,
        tenant_id: UUID,
        message_id: UUID,
        seen: bool | None,
        flagged: bool | None,
        answered: bool | None = None,
    ) -> None:
        located = await self._locate(tenant_id, message_id)
        if located is None:
            return
        wanted = {"\\Seen": seen, "\\Flagged": flagged, "\\Answered": answered}
        add = [flag for flag, on in wanted.items() if on is True]
        remove = [flag for flag, on in wanted.items() if on is False]
        async with self._folder(located) as imap:
            await imap.store_flags(located.message.uid, add, remove)


class ApplyMove(_RemoteChange):
    """Moves on the server, then in the store: to the new UID the server reports (UIDPLUS), or, when it does
    not, out of the store until the next sync of the target folder brings the message in."""

    async def __call__(self, tenant_id: UUID, message_id: UUID, mailbox_id: UUID) -> None:
        located = await self._locate(tenant_id, message_id)
        if located is None or located.message.mailbox_id == mailbox_id:
            return
        target = next((f for f in located.folders if f.id == mailbox_id), None)
        if target is not None:
            await self._move(located, target)


class ApplyDelete(_RemoteChange):
    """To the account's Trash; for good when the message is in the Trash already or there is no Trash."""

    async def __call__(self, tenant_id: UUID, message_id: UUID) -> None:
        located = await self._locate(tenant_id, message_id)
        if located is None:
            return
        trash = next((f for f in located.folders if f.role is MailboxRole.TRASH), None)
        if trash is not None and trash.id != located.mailbox.id:
            await self._move(located, trash)
            return
        async with self._folder(located) as imap:
            await imap.expunge(located.message.uid)
        async with self._uow as uow:
            await uow.message_store.remove(tenant_id, message_id)
            summary = summary_of(located.message)
            uow.changes.record(message_deleted(tenant_id, summary, self._clock.now(), new_id()))
            await uow.commit()
