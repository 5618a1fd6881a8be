from copy import copy
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.access import ApiKey, Grant, RefreshToken, Session
from domain.accounts import MailAccount
from domain.audit import AuditEvent
from domain.changes import LoggedChange
from domain.drafts import Draft
from domain.mailboxes import Mailbox
from domain.messages import Message
from domain.oauth import OAuthGrant
from domain.sync import AccountSync
from domain.tenants import Tenant, User
from domain.webhooks import Delivery, DeliveryAttempt, Webhook


@dataclass
class MemoryStore:
    """What an in-memory deployment holds; one instance is shared by every unit of work of an app."""

    tenants: dict[UUID, Tenant] = field(default_factory=dict)
    users: dict[UUID, User] = field(default_factory=dict)
    accounts: dict[UUID, MailAccount] = field(default_factory=dict)
    oauth_grants: dict[UUID, OAuthGrant] = field(default_factory=dict)
    """account -> its OAuth2 grant"""
    grants: dict[tuple[UUID, UUID], Grant] = field(default_factory=dict)
    """(account, user) -> grant"""
    sessions: dict[UUID, Session] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    api_keys: dict[UUID, ApiKey] = field(default_factory=dict)
    mailboxes: dict[UUID, Mailbox] = field(default_factory=dict)
    messages: dict[tuple[UUID, int], Message] = field(default_factory=dict)
    syncs: dict[UUID, AccountSync] = field(default_factory=dict)
    syncs_asked_again: set[UUID] = field(default_factory=set)
    drafts: dict[UUID, Draft] = field(default_factory=dict)
    audit: dict[UUID, AuditEvent] = field(default_factory=dict)
    changes: dict[tuple[UUID, int], LoggedChange] = field(default_factory=dict)
    change_positions: dict[UUID, tuple[int, int]] = field(default_factory=dict)
    """Per tenant: (last sequence, pruned through)."""
    webhooks: dict[UUID, Webhook] = field(default_factory=dict)
    deliveries: dict[UUID, Delivery] = field(default_factory=dict)
    attempts: dict[UUID, DeliveryAttempt] = field(default_factory=dict)
    watch_leases: dict[UUID, tuple[UUID, str, datetime]] = field(default_factory=dict)
    """account -> (tenant, owner, expires at)"""

    def snapshot(self) -> "MemoryStore":
        """A copy of every table; stored objects are replaced, never changed in place, so a shallow copy does."""
        return MemoryStore(**{name: copy(getattr(self, name)) for name in self.__dataclass_fields__})

    def restore(self, other: "MemoryStore") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(other, name))
