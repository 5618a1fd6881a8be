"""Drafts and their way out: draft -> queued -> sending -> sent | failed."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import Conflict
from domain.messages import Address


class DraftStatus(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


_ALLOWED = {
    DraftStatus.DRAFT: {DraftStatus.QUEUED},
    DraftStatus.QUEUED: {DraftStatus.SENDING, DraftStatus.DRAFT},
    DraftStatus.SENDING: {DraftStatus.SENT, DraftStatus.FAILED, DraftStatus.QUEUED},
    DraftStatus.FAILED: {DraftStatus.QUEUED, DraftStatus.DRAFT},
    DraftStatus.SENT: set(),
}


@dataclass(slots=True)
class Draft:
    id: UUID
    tenant_id: UUID
    account_id: UUID
    sender: Address
    to: list[Address]
    subject: str
    status: DraftStatus = DraftStatus.DRAFT
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    text_body: str | None = None
    html_body: str | None = None
    attempts: int = 0
    last_smtp_reply: str | None = None
    message_id: str | None = None
    sent_at: datetime | None = None

    def move_to(self, status: DraftStatus) -> None:
        if status not in _ALLOWED[self.status]:
            raise Conflict(f"a {self.status} draft cannot become {status}")
        self.status = status
