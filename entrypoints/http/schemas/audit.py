from datetime import datetime
from uuid import UUID

import msgspec

from domain.audit import AuditAction, AuditEvent


class AuditEventOut(msgspec.Struct):
    id: UUID
    action: AuditAction
    actor_id: UUID | None
    target: str | None
    at: datetime
    request_id: str | None
    client_address: str | None

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditEventOut":
        return cls(
            event.id, event.action, event.actor_id, event.target, event.at, event.request_id, event.client_address
        )


class AuditEventList(msgspec.Struct):
    items: list[AuditEventOut]
    total: int
