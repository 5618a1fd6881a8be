"""The audit trail: who did what to which thing of a tenant, when, from where, in which request."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class AuditAction(StrEnum):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    ACCOUNT_CREATED = "account.created"
    ACCOUNT_UPDATED = "account.updated"
    ACCOUNT_DELETED = "account.deleted"
    SEND_QUEUED = "message.send_queued"
    KEYS_ROTATED = "keys.rotated"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_UPDATED = "webhook.updated"
    WEBHOOK_DELETED = "webhook.deleted"
    ACCOUNT_OWNER_CHANGED = "account.owner_changed"
    GRANT_CHANGED = "grant.changed"
    GRANT_DELETED = "grant.deleted"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DELETED = "user.deleted"
    PASSWORD_CHANGED = "password.changed"  # noqa: S105 - an action name
    LOGOUT = "session.logout"
    REFRESH_REUSED = "session.refresh_reused"
    KEY_CREATED = "api_key.created"
    KEY_DELETED = "api_key.deleted"


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    """Where the current request (or job, or command) came from."""

    request_id: str | None = None
    client_address: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """`tenant_id` is None for a failed login naming no known tenant; `actor_id` is None when no user acted (a
    failed login, a key rotation run by an operator)."""

    id: UUID
    tenant_id: UUID | None
    actor_id: UUID | None
    action: AuditAction
    target: str | None
    at: datetime
    request_id: str | None
    client_address: str | None
