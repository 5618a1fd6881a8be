"""The change log and webhook endpoints as the API shows them."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from domain.changes import ChangeType, LoggedChange, change_document
from domain.webhooks import AttemptOutcome, DeliveryAttempt, Webhook

AccountIds = Annotated[
    list[UUID], msgspec.Meta(max_length=1000, description="only these accounts; null for every account")
]
EventName = Annotated[str, msgspec.Meta(max_length=40, examples=["message.created", "*"])]


class ChangeOut(msgspec.Struct, kw_only=True):
    id: Annotated[UUID, msgspec.Meta(description="the event's id; a webhook delivery's `webhook-id`")]
    type: ChangeType
    created_at: datetime
    tenant_id: UUID
    account_id: UUID | None
    sequence: Annotated[int, msgspec.Meta(description="the event's place in the tenant's log; only grows")]
    cursor: Annotated[str, msgspec.Meta(description="resume after this event: `since`, or the stream's `id:`")]
    data: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="message events: `message` (as the message list shows it) and what changed; the others: "
            "what a client needs without a second request (see the README's event catalogue)"
        ),
    ]

    @classmethod
    def of(cls, logged: LoggedChange) -> "ChangeOut":
        return msgspec.convert(change_document(logged), cls, from_attributes=False, strict=False)


class ChangePage(msgspec.Struct):
    items: list[ChangeOut]
    next_cursor: Annotated[str, msgspec.Meta(description="pass as `since` for what follows")]
    has_more: Annotated[bool, msgspec.Meta(description="more events are there already: ask again at once")]


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Annotated[str, msgspec.Meta(max_length=2000, description="http(s) URL that receives the POSTs")]
    events: Annotated[
        list[EventName], msgspec.Meta(min_length=1, max_length=32, description='event types, or ["*"] for all')
    ]
    account_ids: Annotated[list[UUID], msgspec.Meta(max_length=1000)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""


class WebhookPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    events: Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=32)] | None = None
    account_ids: AccountIds | msgspec.UnsetType | None = msgspec.UNSET
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    enabled: Annotated[
        bool | None,
        msgspec.Meta(description="true enables a disabled endpoint from now on (missed events are in the feed)"),
    ] = None


class WebhookOut(msgspec.Struct, kw_only=True):
    id: UUID
    url: str
    events: list[str]
    account_ids: list[UUID] | None
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def fields_of(cls, webhook: Webhook) -> dict[str, Any]:
        wanted = webhook.wanted
        return {
            "id": webhook.id,
            "url": webhook.url,
            "events": sorted(t.value for t in wanted.types) or ["*"],
            "account_ids": None if wanted.account_ids is None else sorted(wanted.account_ids),
            "description": webhook.description,
            "enabled": webhook.enabled,
            "disabled_reason": webhook.disabled_reason,
            "created_at": webhook.created_at,
            "updated_at": webhook.updated_at,
        }

    @classmethod
    def of(cls, webhook: Webhook) -> "WebhookOut":
        return cls(**cls.fields_of(webhook))


class WebhookCreated(WebhookOut, kw_only=True):
    secret: Annotated[
        str,
        msgspec.Meta(description="`whsec_` and base64: verify each delivery's signature with it. Shown only here."),
    ]


class WebhookList(msgspec.Struct):
    items: list[WebhookOut]


class AttemptOut(msgspec.Struct, kw_only=True):
    id: UUID
    delivery_id: UUID
    event_id: UUID
    event_type: str
    attempt: int
    at: datetime
    status_code: Annotated[int | None, msgspec.Meta(description="null when no answer came")]
    duration_ms: int
    error: str | None
    next_attempt_at: Annotated[datetime | None, msgspec.Meta(description="null when no retry is planned")]

    @classmethod
    def of(cls, attempt: DeliveryAttempt) -> "AttemptOut":
        return cls(
            id=attempt.id,
            delivery_id=attempt.delivery_id,
            event_id=attempt.event_id,
            event_type=attempt.event_type,
            attempt=attempt.attempt,
            at=attempt.at,
            status_code=attempt.outcome.status_code,
            duration_ms=attempt.outcome.duration_ms,
            error=attempt.outcome.error,
            next_attempt_at=attempt.next_attempt_at,
        )


class AttemptList(msgspec.Struct):
    items: list[AttemptOut]
    next_before: Annotated[UUID | None, msgspec.Meta(description="pass as `before` for older attempts")]


class WebhookTestOut(msgspec.Struct, kw_only=True):
    event_id: UUID
    delivered: Annotated[bool, msgspec.Meta(description="the receiver answered 2xx")]
    status_code: int | None
    duration_ms: int
    error: str | None

    @classmethod
    def of(cls, event: LoggedChange, outcome: AttemptOutcome) -> "WebhookTestOut":
        return cls(
            event_id=event.change.id,
            delivered=outcome.succeeded,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
        )
