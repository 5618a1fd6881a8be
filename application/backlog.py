"""What piles up across tenants, for the metrics Prometheus scrapes: webhook deliveries due and not yet made, and
accounts whose syncs have failed for a while. Counts only: no tenant or account is named, so a scrape never grows
with the number of customers."""

from dataclasses import dataclass
from datetime import timedelta

from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock

FAILING_FOR = timedelta(minutes=30)
"""An account counts as failing once its error episode is this old: a server that answers again on the next
scheduled sync (a restart, a short outage) is not worth waking anyone."""


@dataclass(frozen=True, slots=True)
class Backlog:
    webhook_deliveries_due: int
    accounts_sync_failing: int


class ReadBacklog:
    """Crosses tenants: the caller opens the system scope, as the scheduler's sweeps do."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self) -> Backlog:
        now = self._clock.now()
        async with self._uow as uow:
            due = await uow.webhooks.count_due(now)
            failing = await uow.syncs.count_failing_since(now - FAILING_FOR)
        return Backlog(webhook_deliveries_due=due, accounts_sync_failing=failing)
