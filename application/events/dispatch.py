"""Delivering the log to webhook endpoints, at least once: fan out (the events after each endpoint's cursor become
deliveries, and the cursor moves, in one transaction), then claim what is due under a lease, POST it, and record
each attempt. A dispatcher that dies mid-delivery leaves its claims to expire; the next one delivers them again,
and the receiver tells the repeat by `webhook-id`."""

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.access.reach import reach_of
from application.events.settings import EventSettings
from domain.access import EVERYTHING, AccountReach
from domain.auth import Principal
from domain.changes import Change, ChangeType, LoggedChange
from domain.errors import DomainError
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import CredentialCipher
from domain.ports.webhooks import WebhookTransport
from domain.webhooks import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus, Webhook

log = logging.getLogger("mailroom.webhooks")

NOTHING = AccountReach(everything=False)


async def _owner_reach(uow: UnitOfWork, webhook: Webhook) -> AccountReach:
    """What the endpoint's maker reaches now, as the events are fanned out (domain.access): a member's endpoint
    receives events of their accounts only, a disabled maker's none (they are skipped, not kept for later)."""
    if webhook.owner_id is None:
        return EVERYTHING
    owner = await uow.users.get(webhook.owner_id)
    if owner is None or owner.disabled:
        return NOTHING
    return await reach_of(uow, Principal(owner.id, webhook.tenant_id, owner.role))


def _reaches(reach: AccountReach, change: Change) -> bool:
    """Events of no account (webhook.disabled) go to the admins' endpoints only."""
    if reach.everything:
        return True
    return change.account_id is not None and reach.of(change.account_id) is not None


PRUNED = "the event was pruned from the change log"
"""An outcome no retry can change: the delivery fails without disabling the endpoint."""


@dataclass(slots=True)
class DispatchCounts:
    """What a pass did with the attempts it made and saved: a delivery `retry` is tried again on the schedule, a
    `failed` one never again; `endpoints_disabled` counts the endpoints this pass turned off."""

    delivered: int = 0
    retry: int = 0
    failed: int = 0
    endpoints_disabled: int = 0

    def add(self, other: "DispatchCounts") -> None:
        self.delivered += other.delivered
        self.retry += other.retry
        self.failed += other.failed
        self.endpoints_disabled += other.endpoints_disabled


class DispatchWebhooks:
    """One tenant's pass: returns what became of the deliveries it tried. Several may run at once for one tenant
    (a ring and the sweep): the cursor moves only from where this pass read it, and claims are taken one by one."""

    def __init__(
        self,
        uow: UnitOfWork,
        transport: WebhookTransport,
        cipher: CredentialCipher,
        clock: Clock,
        settings: EventSettings,
    ) -> None:
        self._uow = uow
        self._transport = transport
        self._cipher = cipher
        self._clock = clock
        self._settings = settings

    async def __call__(self, tenant_id: UUID) -> DispatchCounts:
        """One pass: every event fanned out, every due delivery tried once. Retries due later are the caller's to
        wait for (`next_retry_in`)."""
        counts = DispatchCounts()
        while await self._fan_out(tenant_id):
            pass
        while claimed := await self._claim(tenant_id):
            counts.add(await self._deliver(tenant_id, claimed))
        return counts

    async def _fan_out(self, tenant_id: UUID) -> bool:
        """True when an endpoint had a full batch of events and may have more."""
        more = False
        async with self._uow as uow:
            webhooks = await uow.webhooks.enabled(tenant_id)
        for webhook in webhooks:
            async with self._uow as uow:
                events = await uow.changes.after(
                    tenant_id, webhook.cursor, self._settings.fan_out_batch, with_data=False
                )
                if not events:
                    continue
                reach = await _owner_reach(uow, webhook)
                now = self._clock.now()
                deliveries = [
                    Delivery(new_id(), tenant_id, webhook.id, e.sequence, e.change.id, e.change.type.value,
                             DeliveryStatus.PENDING, 0, now, now)
                    for e in events
                    if webhook.wants(e.change) and _reaches(reach, e.change)
                ]  # fmt: skip
                if await uow.webhooks.advance(webhook.id, webhook.cursor, events[-1].sequence):
                    await uow.webhooks.add_deliveries(deliveries)
                    await uow.commit()
                more = more or len(events) == self._settings.fan_out_batch
        return more

    async def _claim(self, tenant_id: UUID) -> list[Delivery]:
        now = self._clock.now()
        async with self._uow as uow:
            claimed = await uow.webhooks.claim_due(
                tenant_id, now, now + self._settings.lease, self._settings.claim_batch
            )
            await uow.commit()
        return claimed

    async def _deliver(self, tenant_id: UUID, claimed: list[Delivery]) -> DispatchCounts:
        """`claimed` were taken under one claim, which their due time now names: their outcomes are saved only
        if it still holds (finish_attempts)."""
        claimed_until = claimed[0].next_attempt_at
        tenant_limit = asyncio.Semaphore(self._settings.per_tenant)
        async with self._uow as uow:
            webhooks = {w.id: w for w in await uow.webhooks.for_tenant(tenant_id)}
            sequences = sorted({d.sequence for d in claimed})
            events = {e.sequence: e for e in await uow.changes.at(tenant_id, sequences)}
        by_webhook: dict[UUID, list[Delivery]] = defaultdict(list)
        for delivery in claimed:
            by_webhook[delivery.webhook_id].append(delivery)
        results = await asyncio.gather(
            *(self._to_endpoint(webhooks.get(w), batch, events, tenant_limit) for w, batch in by_webhook.items())
        )
        finished = [item for result in results for item in result]
        return await self._record(tenant_id, webhooks, finished, claimed_until)

    async def _to_endpoint(
        self,
        webhook: Webhook | None,
        deliveries: list[Delivery],
        events: dict[int, LoggedChange],
        tenant_limit: asyncio.Semaphore,
    ) -> list[tuple[Delivery, AttemptOutcome]]:
        """At most `per_endpoint` requests at once to one endpoint, and `per_tenant` for all of a tenant's: one
        tenant's slow receivers must not take every connection of the process."""
        if webhook is None or not webhook.enabled:
            return [(d, AttemptOutcome(None, 0, "the endpoint was disabled")) for d in deliveries]
        try:
            secret = self._cipher.decrypt(webhook.secret)
        except DomainError as error:
            return [(d, AttemptOutcome(None, 0, f"cannot sign: {error.message}")) for d in deliveries]
        limit = asyncio.Semaphore(self._settings.per_endpoint)

        async def one(delivery: Delivery) -> tuple[Delivery, AttemptOutcome]:
            event = events.get(delivery.sequence)
            if event is None:
                return delivery, AttemptOutcome(None, 0, PRUNED)
            async with limit, tenant_limit:
                return delivery, await self._transport.deliver(webhook.url, secret, event, self._clock.now())

        return list(await asyncio.gather(*(one(d) for d in deliveries)))

    async def _record(
        self,
        tenant_id: UUID,
        webhooks: dict[UUID, Webhook],
        finished: list[tuple[Delivery, AttemptOutcome]],
        claimed_until: datetime | None,
    ) -> DispatchCounts:
        """A 2xx ends the delivery; 410 Gone, or a failure past the retry schedule, disables the endpoint (and
        announces it); anything else is tried again on the schedule. Counted are the outcomes saved: a claim that
        ran out meanwhile changes nothing (finish_attempts)."""
        now = self._clock.now()
        attempts: list[DeliveryAttempt] = []
        disable: dict[UUID, str] = {}
        for delivery, outcome in finished:
            delivery.attempts += 1
            webhook = webhooks.get(delivery.webhook_id)
            if outcome.succeeded:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.DELIVERED, None
            elif webhook is None or not webhook.enabled or outcome.error == PRUNED:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            elif outcome.gone:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
                disable.setdefault(webhook.id, "the receiver answered 410 Gone")
            elif (retry := self._settings.retry.next_attempt(delivery.attempts, now)) is None:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
                disable.setdefault(webhook.id, f"failed {delivery.attempts} times over the whole retry schedule")
            else:
                delivery.next_attempt_at = retry
            attempts.append(
                DeliveryAttempt(new_id(), tenant_id, delivery.webhook_id, delivery.id, delivery.event_id,
                                delivery.event_type, delivery.attempts, now, outcome, delivery.next_attempt_at)
            )  # fmt: skip
        counts = DispatchCounts()
        async with self._uow as uow:
            saved = await uow.webhooks.finish_attempts([d for d, _ in finished], attempts, claimed_until)
            for webhook_id, reason in disable.items():
                counts.endpoints_disabled += await self._disable(uow, tenant_id, webhook_id, reason)
            await uow.commit()
        for delivery, _ in finished:
            if delivery.id not in saved:
                continue
            if delivery.status is DeliveryStatus.DELIVERED:
                counts.delivered += 1
            elif delivery.status is DeliveryStatus.FAILED or delivery.webhook_id in disable:
                counts.failed += 1  # disabling the endpoint failed its pending deliveries (fail_pending)
            else:
                counts.retry += 1
        return counts

    async def _disable(self, uow: UnitOfWork, tenant_id: UUID, webhook_id: UUID, reason: str) -> bool:
        """False when the endpoint was gone or disabled already (another pass did it)."""
        webhook = await uow.webhooks.get(tenant_id, webhook_id)
        if webhook is None or not webhook.enabled:
            return False
        now = self._clock.now()
        webhook.disable(reason, now)
        await uow.webhooks.update(webhook)
        await uow.webhooks.fail_pending(webhook_id)
        # Not the URL: the event goes to the tenant's other endpoints and streams, and URLs may hold credentials.
        data = {"webhook": {"id": webhook.id, "reason": reason}}
        uow.changes.record(Change(new_id(), ChangeType.WEBHOOK_DISABLED, tenant_id, None, now, data))
        log.warning("webhook %s disabled: %s", webhook.id, reason)
        return True

    async def next_retry_in(self, tenant_id: UUID) -> float | None:
        """Seconds until the next retry if it is due soon enough to wait for here; else the sweep finds it."""
        async with self._uow as uow:
            due = await uow.webhooks.next_due(tenant_id)
        if due is None:
            return None
        wait = (due - self._clock.now()).total_seconds()
        return max(wait, 0.0) if wait <= self._settings.linger_seconds else None


class FindWebhookWork:
    """The sweep (every minute): tenants with deliveries due, or endpoints behind their log."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self) -> list[UUID]:
        async with self._uow as uow:
            return await uow.webhooks.tenants_with_work(self._clock.now())


class PruneChanges:
    """Events older than the retention go, a batch at a time, and with them the finished webhook deliveries and
    attempts of the same age (system scope)."""

    def __init__(self, uow: UnitOfWork, clock: Clock, settings: EventSettings) -> None:
        self._uow = uow
        self._clock = clock
        self._settings = settings

    async def __call__(self) -> int:
        cutoff = self._clock.now() - self._settings.retention
        total = 0
        while True:
            async with self._uow as uow:
                pruned = await uow.changes.prune(cutoff, self._settings.prune_batch)
                await uow.commit()
            total += pruned
            if pruned < self._settings.prune_batch:
                break
        async with self._uow as uow:
            await uow.webhooks.prune(cutoff)
            await uow.commit()
        return total
