"""Webhook endpoints as a tenant manages them (POST/GET/PATCH/DELETE /api/webhooks...)."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from application.access.reach import reach_of
from application.audit import Auditor
from domain.audit import AuditAction
from domain.auth import Principal
from domain.changes import Change, ChangeFilter, ChangeType, LoggedChange, parse_types
from domain.errors import Conflict, InvalidInput, NotFound
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import CredentialCipher
from domain.ports.webhooks import WebhookTransport
from domain.webhooks import (
    AttemptOutcome,
    DeliveryAttempt,
    Webhook,
    checked_url,
    new_secret,
    webhook_secret_binding,
)

MAX_DESCRIPTION = 500
MAX_ACCOUNTS = 1000
MAX_WEBHOOKS = 50
"""Per tenant: every endpoint is a fan-out of every event, and a few per integration is what clients need."""


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """What a client sends; None leaves a field as it is (PATCH)."""

    url: str | None = None
    events: Sequence[str] | None = None
    account_ids: Sequence[UUID] | None = None
    all_accounts: bool = False
    """Set by PATCH `"account_ids": null`: every account again."""
    description: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class CreatedWebhook:
    webhook: Webhook
    secret: str
    """Shown once, in the answer to the creation; only its ciphertext is kept."""


class _Webhooks:
    def __init__(self, uow: UnitOfWork, transport: WebhookTransport, clock: Clock, auditor: Auditor) -> None:
        self._uow = uow
        self._transport = transport
        self._clock = clock
        self._auditor = auditor

    async def _url(self, url: str) -> str:
        """The URL's form, then where it leads: refused here when it resolves to an address deliveries may not
        reach, and checked again on every delivery (a name may resolve elsewhere later)."""
        url = checked_url(url)
        refusal = await self._transport.refusal(url)
        if refusal is not None:
            raise InvalidInput("url", refusal)
        return url

    async def _accounts(self, uow: UnitOfWork, principal: Principal, ids: Sequence[UUID]) -> frozenset[UUID]:
        """Accounts the caller reaches: an endpoint may not ask for another member's account's events."""
        if len(ids) > MAX_ACCOUNTS:
            raise InvalidInput("account_ids", f"at most {MAX_ACCOUNTS}")
        reach = await reach_of(uow, principal)
        for account_id in ids:
            if reach.of(account_id) is None or await uow.accounts.get(principal.tenant_id, account_id) is None:
                raise InvalidInput("account_ids", f"no account {account_id}")
        return frozenset(ids)


def _description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput("description", f"at most {MAX_DESCRIPTION} characters")
    return text


class CreateWebhook(_Webhooks):
    """The endpoint hears the events committed from now on; what came before is in the change feed."""

    def __init__(
        self, uow: UnitOfWork, transport: WebhookTransport, clock: Clock, auditor: Auditor, cipher: CredentialCipher
    ) -> None:
        super().__init__(uow, transport, clock, auditor)
        self._cipher = cipher

    async def __call__(self, principal: Principal, spec: WebhookSpec) -> CreatedWebhook:
        if spec.url is None or spec.events is None:
            raise InvalidInput("url" if spec.url is None else "events", "required")
        if not spec.events:
            raise InvalidInput("events", 'name at least one event type, or ["*"] for all')
        url = await self._url(spec.url)
        types = parse_types(spec.events, "events")
        webhook_id, secret, now = new_id(), new_secret(), self._clock.now()
        async with self._uow as uow:
            if len(await uow.webhooks.for_tenant(principal.tenant_id)) >= MAX_WEBHOOKS:
                raise Conflict(f"a tenant has at most {MAX_WEBHOOKS} webhook endpoints: delete one first")
            accounts = None if spec.account_ids is None else await self._accounts(uow, principal, spec.account_ids)
            cursor, _ = await uow.changes.position(principal.tenant_id)
            webhook = Webhook(
                id=webhook_id,
                tenant_id=principal.tenant_id,
                url=url,
                wanted=ChangeFilter(types, accounts),
                description=_description(spec.description or ""),
                secret=self._cipher.encrypt(secret, webhook_secret_binding(webhook_id)),
                created_at=now,
                updated_at=now,
                cursor=cursor,
                owner_id=principal.user_id,
            )
            await uow.webhooks.add(webhook)
            await self._auditor.record(
                uow, AuditAction.WEBHOOK_CREATED, principal.tenant_id, principal.user_id, webhook.id
            )
            await uow.commit()
        return CreatedWebhook(webhook, secret)


class ListWebhooks:
    """A member's own endpoints; an admin's list is the tenant's."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> list[Webhook]:
        async with self._uow as uow:
            webhooks = await uow.webhooks.for_tenant(principal.tenant_id)
        return [w for w in webhooks if principal.is_admin or w.owner_id == principal.user_id]


async def _owned(uow: UnitOfWork, principal: Principal, webhook_id: UUID) -> Webhook:
    """An endpoint the caller made, or any of the tenant's for an admin; another member's is not found."""
    webhook = await uow.webhooks.get(principal.tenant_id, webhook_id)
    if webhook is None or not (principal.is_admin or webhook.owner_id == principal.user_id):
        raise NotFound("webhook not found")
    return webhook


class GetWebhook:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, webhook_id: UUID) -> Webhook:
        async with self._uow as uow:
            return await _owned(uow, principal, webhook_id)


class UpdateWebhook(_Webhooks):
    """Enabling a disabled endpoint starts it from now: the events it missed are in the change feed."""

    async def __call__(self, principal: Principal, webhook_id: UUID, spec: WebhookSpec) -> Webhook:
        url = None if spec.url is None else await self._url(spec.url)
        if spec.events is not None and not spec.events:
            raise InvalidInput("events", 'name at least one event type, or ["*"] for all')
        types = None if spec.events is None else parse_types(spec.events, "events")
        now = self._clock.now()
        async with self._uow as uow:
            webhook = await _owned(uow, principal, webhook_id)
            wanted = webhook.wanted
            if types is not None:
                wanted = replace(wanted, types=types)
            if spec.all_accounts:
                wanted = replace(wanted, account_ids=None)
            elif spec.account_ids is not None:
                wanted = replace(wanted, account_ids=await self._accounts(uow, principal, spec.account_ids))
            webhook.wanted, webhook.updated_at = wanted, now
            if url is not None:
                webhook.url = url
            if spec.description is not None:
                webhook.description = _description(spec.description)
            if spec.enabled is True and not webhook.enabled:
                cursor, _ = await uow.changes.position(principal.tenant_id)
                webhook.enable(now, cursor)
            elif spec.enabled is False and webhook.enabled:
                webhook.disable("disabled by a user", now)
                await uow.webhooks.fail_pending(webhook.id)
            await uow.webhooks.update(webhook)
            await self._auditor.record(
                uow, AuditAction.WEBHOOK_UPDATED, principal.tenant_id, principal.user_id, webhook.id
            )
            await uow.commit()
        return webhook


class DeleteWebhook:
    def __init__(self, uow: UnitOfWork, auditor: Auditor) -> None:
        self._uow = uow
        self._auditor = auditor

    async def __call__(self, principal: Principal, webhook_id: UUID) -> None:
        async with self._uow as uow:
            await _owned(uow, principal, webhook_id)
            if not await uow.webhooks.delete(principal.tenant_id, webhook_id):
                raise NotFound("webhook not found")
            await self._auditor.record(
                uow, AuditAction.WEBHOOK_DELETED, principal.tenant_id, principal.user_id, webhook_id
            )
            await uow.commit()


class SendTestEvent:
    """Sends a `webhook.test` event to the endpoint now, signed like any delivery, and answers what the receiver
    did; the event is not in the change log, and its sequence is 0."""

    def __init__(self, uow: UnitOfWork, transport: WebhookTransport, cipher: CredentialCipher, clock: Clock) -> None:
        self._uow = uow
        self._transport = transport
        self._cipher = cipher
        self._clock = clock

    async def __call__(self, principal: Principal, webhook_id: UUID) -> tuple[LoggedChange, AttemptOutcome]:
        async with self._uow as uow:
            webhook = await _owned(uow, principal, webhook_id)
        now = self._clock.now()
        change = Change(new_id(), ChangeType.WEBHOOK_TEST, principal.tenant_id, None, now, {"webhook_id": webhook.id})
        event = LoggedChange(0, change)  # not in the log: sequence 0, before every logged event
        secret = self._cipher.decrypt(webhook.secret)
        return event, await self._transport.deliver(webhook.url, secret, event, now)


class ListDeliveries:
    """The endpoint's attempts, newest first; `before` (an attempt id) pages back."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, webhook_id: UUID, before: UUID | None, limit: int
    ) -> list[DeliveryAttempt]:
        async with self._uow as uow:
            await _owned(uow, principal, webhook_id)
            return await uow.webhooks.attempts(principal.tenant_id, webhook_id, before, max(1, min(limit, 200)))
