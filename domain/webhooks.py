"""Webhook endpoints and their deliveries (Standard Webhooks, https://www.standardwebhooks.com/).

An endpoint follows its tenant's change log with a cursor of its own: the events after it that the endpoint
subscribed to become deliveries, and each delivery is tried until the receiver answers 2xx or the retry schedule
runs out. Deliveries are at least once: a receiver tells a repeat by the `webhook-id` header, the event's id."""

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from domain.accounts import EncryptedSecret
from domain.changes import Change, ChangeFilter
from domain.errors import InvalidInput

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MAX_URL_CHARS = 2000

DEFAULT_RETRY_SCHEDULE = (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 24 * 3600)
"""Seconds to wait before each retry after the first attempt: about three days in all, so a receiver down over a
weekend still gets every event, then the endpoint is disabled."""


def new_secret() -> str:
    """24 random bytes in base64 after `whsec_`: the secret format the Standard Webhooks libraries take."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def webhook_secret_binding(webhook_id: UUID) -> str:
    return f"webhook:{webhook_id}:secret"


def checked_url(url: str) -> str:
    """An absolute http(s) URL without credentials. Where it may point (public addresses only, unless allowed) is
    checked on every delivery against the addresses the name resolves to then, not here."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput("url", f"longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("url", "not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url", "must be an absolute http or https URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url", "must not hold a user name or password; authenticate by the signature")
    if port == 0:
        raise InvalidInput("url", "port 0 is not a port")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise InvalidInput("url", "must not hold spaces or control characters")
    return url


@dataclass(slots=True)
class Webhook:
    """`cursor` is the sequence of the last event of the log this endpoint has taken deliveries from."""

    id: UUID
    tenant_id: UUID
    url: str
    wanted: ChangeFilter
    description: str
    secret: EncryptedSecret
    created_at: datetime
    updated_at: datetime
    cursor: int
    enabled: bool = True
    disabled_reason: str | None = None
    owner_id: UUID | None = None
    """Who made it: a member's endpoint receives only events of the accounts that member reaches when the event
    is fanned out; an admin's (and one whose maker is gone) receives the whole tenant's."""

    def wants(self, change: Change) -> bool:
        return self.enabled and self.wanted.matches(change)

    def disable(self, reason: str, now: datetime) -> None:
        self.enabled, self.disabled_reason, self.updated_at = False, reason[:500], now

    def enable(self, now: datetime, cursor: int) -> None:
        """Enabled again from now on: what happened while it was off is in the change feed, not redelivered."""
        self.enabled, self.disabled_reason, self.updated_at, self.cursor = True, None, now, cursor


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(slots=True)
class Delivery:
    """One event for one endpoint. `attempts` counts the tries made; `next_attempt_at` is when the next is due."""

    id: UUID
    tenant_id: UUID
    webhook_id: UUID
    sequence: int
    event_id: UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What the receiver did with one POST: its status code, or the error when none came back."""

    status_code: int | None
    duration_ms: int
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver asks for no more deliveries (Standard Webhooks' endpoint disabling)."""
        return self.status_code == 410


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try of a delivery as `GET /api/webhooks/{id}/deliveries` lists it."""

    id: UUID
    tenant_id: UUID
    webhook_id: UUID
    delivery_id: UUID
    event_id: UUID
    event_type: str
    attempt: int
    at: datetime
    outcome: AttemptOutcome
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    delays: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE

    def next_attempt(self, attempts_made: int, now: datetime) -> datetime | None:
        """When to try again after `attempts_made` failed tries; None when the schedule is spent."""
        if attempts_made - 1 >= len(self.delays):
            return None
        return now + timedelta(seconds=self.delays[attempts_made - 1])
