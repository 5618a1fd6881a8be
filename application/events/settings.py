from dataclasses import dataclass, field
from datetime import timedelta

from domain.webhooks import RetrySchedule


@dataclass(frozen=True, slots=True)
class EventSettings:
    """`retention`: how long the change log keeps events (a cursor older than that answers 410).
    `heartbeat_seconds`: the stream's comment line when nothing happens, under the idle timeouts of proxies.
    `retry`: the webhook retry schedule. `lease`: how long a dispatcher holds the deliveries it claimed before another
    may take them: a claim of `claim_batch` must be sent within it even to one endpoint answering only at its
    timeout. `linger_seconds`: a delivery job waits for retries due this soon itself; later ones are found by the
    scheduled sweep. `per_endpoint`: requests at once to one endpoint; `per_tenant`: to all of a tenant's, so one
    tenant's slow receivers cannot take every connection of a worker."""

    retention: timedelta = timedelta(days=7)
    per_tenant: int = 32
    heartbeat_seconds: float = 15.0
    retry: RetrySchedule = field(default_factory=RetrySchedule)
    lease: timedelta = timedelta(seconds=65)
    linger_seconds: float = 30.0
    per_endpoint: int = 16
    claim_batch: int = 64
    fan_out_batch: int = 1000
    prune_batch: int = 10_000
