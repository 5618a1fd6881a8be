"""Drafts and their way out: draft -> queued -> sending -> sent | failed.

The outbox is the drafts table itself: a send is committed as `queued` before its job is sent, a worker takes a
lease (`sending`) before it talks SMTP, and a lease that is not given back (the worker died) expires so another
worker may take the draft over. Nothing a user asked to send lives only in a job queue.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.errors import Conflict, InvalidInput
from domain.ids import new_id
from domain.messages import Address
from domain.validation import require_email, require_header_text, require_media_type

SEND_PATIENCE = timedelta(minutes=5)
MAX_RECIPIENTS = 500
MAX_SUBJECT_LENGTH = 998


class DraftStatus(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DraftAttachment:
    """A file of a draft; its bytes live in the blob store under `blob_key`. A forwarded message is one of
    these with the content type message/rfc822."""

    id: UUID
    filename: str
    content_type: str
    size: int
    blob_key: str

    def __post_init__(self) -> None:
        require_header_text("attachments.filename", self.filename, max_length=255)
        require_media_type("attachments.content_type", self.content_type)


@dataclass(frozen=True, slots=True)
class DraftContent:
    """What the user writes, checked as one value. Every header value is refused if it holds CR, LF or another
    control character: the stdlib email package has let such values through as new headers (CVE-2024-6923,
    bpo-39073, gh-100612)."""

    sender: Address
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: str = ""
    text: str | None = None
    html: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[DraftAttachment, ...] = ()

    def __post_init__(self) -> None:
        _require_address("from", self.sender)
        for name, addresses in (("to", self.to), ("cc", self.cc), ("bcc", self.bcc)):
            for index, address in enumerate(addresses):
                _require_address(f"{name}.{index}", address)
        if len(self.recipients) > MAX_RECIPIENTS:
            raise InvalidInput("to", f"at most {MAX_RECIPIENTS} recipients in all")
        require_header_text("subject", self.subject, max_length=MAX_SUBJECT_LENGTH, allow_empty=True)
        for name, value in (("in_reply_to", self.in_reply_to), *(("references", r) for r in self.references)):
            if value is not None:
                require_header_text(name, value, max_length=998)

    @property
    def recipients(self) -> list[str]:
        """Every envelope recipient (RCPT TO), Bcc included, each once."""
        seen: dict[str, None] = {}
        for address in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(address.address, None)
        return list(seen)

    @property
    def attachment_bytes(self) -> int:
        return sum(attachment.size for attachment in self.attachments)

    def require_sendable(self) -> None:
        if not self.recipients:
            raise InvalidInput("to", "a message needs at least one recipient (to, cc or bcc)")


def _require_address(field_name: str, address: Address) -> None:
    require_header_text(f"{field_name}.name", address.name, max_length=200, allow_empty=True)
    require_email(f"{field_name}.address", address.address)


def new_message_id(sender: Address) -> str:
    """A Message-ID (RFC 5322 section 3.6.4) unique by its time-ordered id, on the sender's domain."""
    return f"<{new_id().hex}@{sender.address.rpartition('@')[2]}>"


@dataclass(frozen=True, slots=True)
class Envelope:
    """SMTP's MAIL FROM and RCPT TO (RFC 5321 section 3.3), apart from the headers the message carries."""

    sender: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """The message as it was fixed when queued: its Message-ID, Date and the built MIME bytes' blob."""

    message_id: str
    date: datetime
    blob_key: str
    size: int


@dataclass(slots=True)
class Draft:
    id: UUID
    tenant_id: UUID
    account_id: UUID
    content: DraftContent
    created_at: datetime
    updated_at: datetime
    status: DraftStatus = DraftStatus.DRAFT
    outgoing: Outgoing | None = None
    attempts: int = 0
    last_smtp_reply: str | None = None
    send_at: datetime | None = None
    due_at: datetime | None = None
    queued_at: datetime | None = None
    enqueued_at: datetime | None = None
    job_id: str | None = None
    idempotency_key: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    sent_at: datetime | None = None
    sent_copy_error: str | None = None

    @property
    def editable(self) -> bool:
        return self.status in (DraftStatus.DRAFT, DraftStatus.FAILED)

    def edit(self, content: DraftContent, now: datetime) -> None:
        """A queued or sending draft is on its way and cannot change; a failed one becomes a draft again."""
        if not self.editable:
            raise Conflict(f"a {self.status} draft cannot be changed")
        self.content, self.status, self.updated_at = content, DraftStatus.DRAFT, now
        self.outgoing = None

    def require_deletable(self) -> None:
        if self.status is DraftStatus.SENDING:
            raise Conflict("the draft is being sent right now")

    def queue(self, outgoing: Outgoing, job_id: str, now: datetime, send_at: datetime | None, key: str | None) -> None:
        if not self.editable:
            raise Conflict(f"a {self.status} draft cannot be sent again")
        self.content.require_sendable()
        self.status, self.outgoing, self.job_id, self.idempotency_key = DraftStatus.QUEUED, outgoing, job_id, key
        self.attempts, self.last_smtp_reply, self.sent_copy_error = 0, None, None
        self.send_at = send_at if send_at is not None and send_at > now else None
        self.due_at = self.send_at or now
        self.queued_at = self.updated_at = now
        self.enqueued_at = None if self.send_at else now

    def due(self, now: datetime) -> bool:
        return self.status is DraftStatus.QUEUED and self.due_at is not None and self.due_at <= now

    def needs_job(self, now: datetime) -> bool:
        """For the scheduler: due and with no job sent lately (never, or its job was lost), or sending under an
        expired lease (the worker died mid-send)."""
        if self.status is DraftStatus.SENDING:
            return self._lease_expired(now)
        if not self.due(now):
            return False
        return self.enqueued_at is None or self.enqueued_at + SEND_PATIENCE <= now

    def claimable(self, now: datetime) -> bool:
        if self.status is DraftStatus.SENDING:
            return self._lease_expired(now)
        return self.due(now)

    def _lease_expired(self, now: datetime) -> bool:
        return self.lease_expires_at is None or self.lease_expires_at <= now

    def start_sending(self, owner: str, now: datetime, ttl: timedelta) -> None:
        if not self.claimable(now):
            raise Conflict(f"a {self.status} draft is not due for sending")
        self.status, self.lease_owner, self.lease_expires_at = DraftStatus.SENDING, owner, now + ttl
        self.attempts += 1
        self.updated_at = now

    def mark_sent(self, reply: str, now: datetime) -> None:
        self._end_attempt(DraftStatus.SENT, reply, now)
        self.sent_at, self.due_at = now, None

    def retry_later(self, reply: str, now: datetime, delay: timedelta, *, job_waits: bool) -> None:
        """Queued again for `now + delay`; `job_waits` says the current job will try again itself, so the
        scheduler leaves the draft alone unless that job is lost."""
        self._end_attempt(DraftStatus.QUEUED, reply, now)
        self.due_at = now + delay
        self.enqueued_at = now + delay if job_waits else None

    def hold(self, reason: str, now: datetime, until: datetime) -> None:
        """Queued again until `until` without counting the attempt: the account cannot sign in until its user acts
        (its OAuth2 grant was lost), which says nothing about this message, so it must not use up its tries."""
        self._end_attempt(DraftStatus.QUEUED, reason, now)
        self.attempts = max(0, self.attempts - 1)
        self.due_at, self.enqueued_at = until, None

    def mark_failed(self, reply: str, now: datetime) -> None:
        self._end_attempt(DraftStatus.FAILED, reply, now)
        self.due_at = None

    def _end_attempt(self, status: DraftStatus, reply: str, now: datetime) -> None:
        if self.status is not DraftStatus.SENDING:
            raise Conflict(f"a {self.status} draft is not being sent")
        self.status, self.last_smtp_reply, self.updated_at = status, reply[:1000], now
        self.lease_owner = self.lease_expires_at = None
