"""What a client changes on a message: the store first or the server first, and a job to do the other."""

from dataclasses import replace
from uuid import UUID

from application.jobs import BackgroundJobs
from application.messages.read import HtmlDisplay, MessageView, ViewMessage, owned_message, reachable_message
from domain.access import Reach
from domain.auth import Principal
from domain.changes import message_updated
from domain.errors import InvalidInput, NotFound
from domain.ids import new_id
from domain.messages import summary_of
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock, JobQueue


class ChangeFlags:
    """Seen and flagged change in the store at once; a job writes them to the IMAP server. If the server
    disagrees later, the next sync brings the server's flags back. The answer is the changed message as a
    client shows it."""

    def __init__(self, uow: UnitOfWork, jobs: JobQueue, view: ViewMessage, clock: Clock) -> None:
        self._uow = uow
        self._jobs = BackgroundJobs(jobs)
        self._view = view
        self._clock = clock

    async def __call__(
        self, principal: Principal, message_id: UUID, seen: bool | None, flagged: bool | None, display: HtmlDisplay
    ) -> MessageView:
        if seen is None and flagged is None:
            raise InvalidInput("seen", "name `seen`, `flagged` or both")
        async with self._uow as uow:
            message = await reachable_message(uow, principal, message_id, Reach.FULL)
            flags = replace(
                message.flags,
                seen=message.flags.seen if seen is None else seen,
                flagged=message.flags.flagged if flagged is None else flagged,
            )
            await uow.message_store.set_flags(principal.tenant_id, message_id, flags)
            before, message.flags = message.flags, flags
            if flags != before:
                summary = summary_of(message)
                uow.changes.record(message_updated(principal.tenant_id, summary, before, self._clock.now(), new_id()))
            await uow.commit()
        await self._jobs.write_flags(new_id().hex, principal.tenant_id, message_id, seen=seen, flagged=flagged)
        return await self._view(message, display)


class MoveMessage:
    """Queues a move to another folder of the same account; the job moves it on the server, then in the store."""

    def __init__(self, uow: UnitOfWork, jobs: JobQueue) -> None:
        self._uow = uow
        self._jobs = BackgroundJobs(jobs)

    async def __call__(self, principal: Principal, message_id: UUID, mailbox_id: UUID) -> str:
        message = await owned_message(self._uow, principal, message_id, Reach.FULL)
        async with self._uow as uow:
            target = await uow.mailboxes.get(principal.tenant_id, mailbox_id)
        if target is None or target.account_id != message.account_id:
            raise NotFound("mailbox not found in this message's account")
        job_id = new_id().hex
        await self._jobs.move_message(job_id, principal.tenant_id, message_id, mailbox_id)
        return job_id


class DeleteMessage:
    """Queues a delete: the job moves the message to the account's Trash, or deletes it for good when it is
    in the Trash already (or the account has none)."""

    def __init__(self, uow: UnitOfWork, jobs: JobQueue) -> None:
        self._uow = uow
        self._jobs = BackgroundJobs(jobs)

    async def __call__(self, principal: Principal, message_id: UUID) -> str:
        await owned_message(self._uow, principal, message_id, Reach.FULL)
        job_id = new_id().hex
        await self._jobs.delete_message(job_id, principal.tenant_id, message_id)
        return job_id
