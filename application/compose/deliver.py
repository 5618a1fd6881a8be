"""The worker's side of the outbox: one draft, sent under a lease, tried again on temporary failures."""

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from application.accounts.logins import REAUTH_REQUIRED, MailLogins, imap_session, send_as
from application.compose.settings import OutboxSettings
from application.jobs import BackgroundJobs
from application.sync.request import SyncRequester
from domain.accounts import MailAccount
from domain.changes import Change, ChangeType, message_updated
from domain.drafts import Draft, DraftStatus, Envelope
from domain.errors import DeliveryFailed, DomainError, MailServerRejected, NotFound, ReauthRequired
from domain.ids import new_id
from domain.mailboxes import MailboxRole
from domain.messages import summary_of
from domain.ports.mail import ImapConnector, MailSender, MessageComposer
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock, JobQueue
from domain.ports.storage import BlobStore
from domain.rejections import Rejection, rejection_of

log = logging.getLogger("mailroom.outbox")

HOLD_FOR_LOGIN = timedelta(minutes=15)
"""How long a send waits before looking again whether its account can sign in: after its OAuth2 grant was lost
(until its user signs in again) or while the provider cannot renew the token. It stays queued meanwhile, its tries
not counted (the scheduler's sweep picks it up when due)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    draft: Draft
    account: MailAccount


@dataclass(frozen=True, slots=True)
class SendRun:
    status: DraftStatus | None
    """The draft's status after this job, None when there was nothing for it to do."""
    rejected: tuple[Rejection, ...] = ()
    """Why the server (or the OAuth2 provider) turned each of the job's attempts away, for those it did."""


class DeliverDraft:
    """Safe to run twice (jobs are delivered at least once): only the holder of the draft's lease sends it, and
    a sent or failed draft is never claimed again. A worker that dies mid-send leaves the lease to expire; the
    scheduler then queues the draft again. The one window left is a crash after the server accepted the message
    and before `sent` was committed: that message is sent again (SMTP has no way to ask)."""

    def __init__(
        self,
        uow: UnitOfWork,
        sender: MailSender,
        imap: ImapConnector,
        composer: MessageComposer,
        blobs: BlobStore,
        logins: MailLogins,
        jobs: JobQueue,
        clock: Clock,
        settings: OutboxSettings,
        request_sync: SyncRequester,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._imap = imap
        self._composer = composer
        self._blobs = blobs
        self._logins = logins
        self._jobs = BackgroundJobs(jobs)
        self._clock = clock
        self._settings = settings
        self._request_sync = request_sync

    async def __call__(self, tenant_id: UUID, draft_id: UUID, owner: str) -> DraftStatus | None:
        """Returns the draft's status after this job, None when there was nothing for it to do."""
        return (await self.run(tenant_id, draft_id, owner)).status

    async def run(self, tenant_id: UUID, draft_id: UUID, owner: str) -> SendRun:
        """As a call, with the kind of each rejection by the server (for the worker's metrics)."""
        status, rejected = None, []
        while (claimed := await self._claim(tenant_id, draft_id, owner)) is not None:
            status, wait, rejection = await self._attempt(claimed, owner)
            if rejection is not None:
                rejected.append(rejection)
            if wait is None:
                break
            await self._clock.sleep(wait)
        return SendRun(status, tuple(rejected))

    async def _claim(self, tenant_id: UUID, draft_id: UUID, owner: str) -> Claimed | None:
        async with self._uow as uow:
            if not await uow.drafts.claim(draft_id, owner, self._clock.now(), self._settings.lease_ttl):
                return None
            draft = await uow.drafts.get(tenant_id, draft_id)
            account = await uow.accounts.get(tenant_id, draft.account_id) if draft else None
            if draft is None or account is None or draft.outgoing is None:
                return None
            await uow.commit()
        return Claimed(draft, account)

    async def _attempt(self, claimed: Claimed, owner: str) -> tuple[DraftStatus, float | None, Rejection | None]:
        draft, account = claimed.draft, claimed.account
        assert draft.outgoing is not None
        envelope = Envelope(draft.content.sender.address, tuple(draft.content.recipients))
        wait, message, rejected = None, b"", None
        try:
            if not account.may_send_as(draft.content.sender.address):
                raise DeliveryFailed("the From address is no longer the account's own or an alias", permanent=True)
            message = await self._message(draft.tenant_id, draft.outgoing.blob_key)
            try:
                reply = await send_as(self._sender, self._logins, account, envelope, message)
            except (MailServerRejected, DeliveryFailed) as error:
                rejected = rejection_of(error)
                raise
        except MailServerRejected as error:
            # no login to be had (send_as): a lost grant waits for its user, a provider outage for the provider
            why = f"{REAUTH_REQUIRED}: {error.reason}" if isinstance(error, ReauthRequired) else error.message
            draft.hold(why, self._clock.now(), self._clock.now() + HOLD_FOR_LOGIN)
        except DeliveryFailed as error:
            wait = self._failed(draft, error)
        except Exception as error:
            log.exception("sending draft %s failed unexpectedly", draft.id)
            wait = self._failed(draft, DeliveryFailed(f"internal error ({type(error).__name__})", permanent=False))
        else:
            draft.mark_sent(reply, self._clock.now())
        if not await self._save(draft, owner):
            log.warning("draft %s: lease lost while sending; another worker took over", draft.id)
            return draft.status, None, rejected
        if draft.status is DraftStatus.SENT:
            await self._mark_answered(draft)
            if not account.server_saves_sent:
                await self._file_in_sent(draft, account, message)
        return draft.status, wait, rejected

    async def _mark_answered(self, draft: Draft) -> None:
        """A sent reply marks the message it answers \\Answered, in the store at once and on the server by a job."""
        if not draft.content.in_reply_to:
            return
        async with self._uow as uow:
            originals = await uow.messages.with_message_id(draft.tenant_id, draft.account_id, draft.content.in_reply_to)
            unanswered = [m for m in originals if not m.flags.answered]
            for message in unanswered:
                answered = replace(message, flags=replace(message.flags, answered=True))
                await uow.message_store.set_flags(draft.tenant_id, message.id, answered.flags)
                summary, now = summary_of(answered), self._clock.now()
                uow.changes.record(message_updated(draft.tenant_id, summary, message.flags, now, new_id()))
            await uow.commit()
        for message in unanswered:
            await self._jobs.write_flags(new_id().hex, draft.tenant_id, message.id, answered=True)

    async def _message(self, tenant_id: UUID, blob_key: str) -> bytes:
        try:
            return await self._blobs.get(tenant_id, blob_key)
        except NotFound:
            raise DeliveryFailed(
                "the message built at queue time is missing from the blob store", permanent=True
            ) from None

    def _failed(self, draft: Draft, error: DeliveryFailed) -> float | None:
        now = self._clock.now()
        if error.permanent or draft.attempts >= self._settings.max_attempts:
            draft.mark_failed(error.reply, now)
            return None
        delay = self._settings.retry_delay(draft.attempts)
        waits = delay <= self._settings.inline_retry_max
        draft.retry_later(error.reply, now, delay, job_waits=waits)
        return delay.total_seconds() if waits else None

    async def _save(self, draft: Draft, owner: str) -> bool:
        """A send that ended (sent, or failed for good) is announced with the draft's new status, in its
        transaction; a retry later is not news."""
        async with self._uow as uow:
            saved = await uow.drafts.update(draft, expected=DraftStatus.SENDING, owner=owner)
            if saved and draft.status in (DraftStatus.SENT, DraftStatus.FAILED):
                uow.changes.record(draft_ended(draft, self._clock.now()))
            await uow.commit()
        return saved

    async def _file_in_sent(self, draft: Draft, account: MailAccount, message: bytes) -> None:
        """APPEND with \\Seen to the Sent folder (RFC 6154 special use), then a sync brings it into the store.
        The copy names the Bcc recipients, which the sent message does not.
        The message is sent whatever happens here; a failure is recorded on the draft for the user to see."""
        assert draft.outgoing is not None
        try:
            copy = self._composer.sent_copy(message, draft.content.bcc)
            async with imap_session(self._imap, self._logins, account) as imap:
                sent = next((f for f in await imap.list_folders() if f.role is MailboxRole.SENT), None)
                if sent is None:
                    raise DomainError("the account has no Sent folder")
                await imap.append(sent.name, copy, ["\\Seen"], draft.outgoing.date)
        except (DomainError, OSError, TimeoutError) as error:
            log.warning("draft %s sent, but not filed in Sent: %s", draft.id, error)
            draft.sent_copy_error = str(error)[:500] or type(error).__name__
            async with self._uow as uow:
                await uow.drafts.update(draft, expected=DraftStatus.SENT)
                await uow.commit()
            return
        await self._request_sync(account.tenant_id, account.id)


def draft_ended(draft: Draft, now: datetime) -> Change:
    kind = ChangeType.DRAFT_SENT if draft.status is DraftStatus.SENT else ChangeType.DRAFT_FAILED
    data = {
        "draft": {
            "id": draft.id,
            "status": draft.status.value,
            "message_id": None if draft.outgoing is None else draft.outgoing.message_id,
            "subject": draft.content.subject,
            "attempts": draft.attempts,
            "smtp_reply": draft.last_smtp_reply,
            "sent_at": draft.sent_at,
        }
    }
    return Change(new_id(), kind, draft.tenant_id, draft.account_id, now, data)
