"""Queues a draft for sending: the message is built and fixed now, committed as queued, then the job is sent."""

from datetime import datetime
from uuid import UUID

from application.audit import Auditor
from application.compose.drafts import owned_draft
from application.compose.settings import OutboxSettings
from application.jobs import BackgroundJobs
from domain.audit import AuditAction
from domain.auth import Principal
from domain.drafts import Draft, DraftStatus, Outgoing, new_message_id
from domain.errors import Conflict, NotFound, TooLarge
from domain.ids import new_id
from domain.ports.mail import MessageComposer
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock, JobQueue
from domain.ports.storage import BlobStore
from domain.validation import in_utc


class QueueSend:
    """Date and Message-ID are fixed here, and the MIME bytes built once and stored, so every attempt (and the
    copy in the Sent folder) carries the same message. The queued state is committed before the job is sent:
    if the job is lost, the scheduler sends the draft again (EnqueueDueSends). With an idempotency key, asking
    again answers the first result instead of sending twice."""

    def __init__(
        self,
        uow: UnitOfWork,
        blobs: BlobStore,
        composer: MessageComposer,
        jobs: JobQueue,
        clock: Clock,
        settings: OutboxSettings,
        auditor: Auditor,
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._composer = composer
        self._jobs = BackgroundJobs(jobs)
        self._clock = clock
        self._settings = settings
        self._auditor = auditor

    async def __call__(
        self, principal: Principal, draft_id: UUID, send_at: datetime | None = None, key: str | None = None
    ) -> Draft:
        if send_at is not None:
            send_at = in_utc("send_at", send_at)
        async with self._uow as uow:
            draft = await owned_draft(uow, principal, draft_id)
            account = await uow.accounts.get(principal.tenant_id, draft.account_id)
        if _repeated(draft, key):
            return draft
        if not draft.editable:
            raise Conflict(f"a {draft.status} draft cannot be sent again")
        if account is None:
            raise NotFound("mail account not found")
        draft.content.require_sendable()
        account.require_sender(draft.content.sender.address)  # the account's addresses may have changed since
        now = self._clock.now()
        outgoing = await self._build(draft, now)
        previous = draft.status
        draft.queue(outgoing, new_id().hex, now, send_at, key)
        async with self._uow as uow:
            if not await uow.drafts.update(draft, expected=previous):
                return await self._raced(draft_id, principal, key)
            await self._auditor.record(uow, AuditAction.SEND_QUEUED, principal.tenant_id, principal.user_id, draft.id)
            await uow.commit()
        if draft.enqueued_at is not None and draft.job_id is not None:
            await self._jobs.send_draft(draft.job_id, draft.tenant_id, draft.id)
        return draft

    async def _build(self, draft: Draft, now: datetime) -> Outgoing:
        attachments = [await self._blobs.get(draft.tenant_id, a.blob_key) for a in draft.content.attachments]
        message_id = new_message_id(draft.content.sender)
        raw = self._composer.compose(draft.content, message_id, now, attachments)
        if len(raw) > self._settings.max_message_bytes:
            raise TooLarge(f"the message is {len(raw)} bytes, over the limit of {self._settings.max_message_bytes}")
        return Outgoing(message_id, now, await self._blobs.put(draft.tenant_id, raw), len(raw))

    async def _raced(self, draft_id: UUID, principal: Principal, key: str | None) -> Draft:
        """Another request changed the draft first: the same request with the same key answers its result."""
        async with self._uow as uow:
            draft = await owned_draft(uow, principal, draft_id)
        if _repeated(draft, key):
            return draft
        raise Conflict("the draft was changed or sent meanwhile")


def _repeated(draft: Draft, key: str | None) -> bool:
    return key is not None and draft.idempotency_key == key and draft.status is not DraftStatus.DRAFT
