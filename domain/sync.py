"""The sync of one mail account, as users see it (GET /api/sync/status) and as workers coordinate it."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

QUEUE_PATIENCE = timedelta(minutes=15)


class SyncPhase(StrEnum):
    IDLE = "idle"
    QUEUED = "queued"
    RUNNING = "running"
    FAILED = "failed"


@dataclass(slots=True)
class SyncProgress:
    folders_done: int = 0
    folders_total: int = 0
    messages_fetched: int = 0
    messages_total: int = 0


@dataclass(slots=True)
class AccountSync:
    """One row per account. `lease_owner` and `lease_expires_at` make sure one worker syncs it at a time;
    a lease that is not renewed (the worker died) expires and another worker may take over."""

    tenant_id: UUID
    account_id: UUID
    phase: SyncPhase = SyncPhase.IDLE
    job_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    progress: SyncProgress = field(default_factory=SyncProgress)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    queued_at: datetime | None = None
    first_synced_at: datetime | None = None
    """When a sync of the account first finished: until then every sync is its first (a first sync cut off and
    resumed included), whose mail is not announced as new."""
    failing_since: datetime | None = None
    """Set by the first of a run of failed syncs, cleared by the next that finishes: one error episode."""

    @property
    def initial(self) -> bool:
        return self.first_synced_at is None

    @property
    def in_progress(self) -> bool:
        return self.phase in (SyncPhase.QUEUED, SyncPhase.RUNNING)

    def stalled(self, now: datetime) -> bool:
        """Queued long ago and never started (the job was lost), or running with an expired lease (the worker
        died and the task was not delivered again): such a sync is requested anew rather than waited for."""
        if self.phase is SyncPhase.QUEUED:
            return self.queued_at is None or self.queued_at + QUEUE_PATIENCE <= now
        if self.phase is SyncPhase.RUNNING:
            return self.lease_expires_at is None or self.lease_expires_at <= now
        return False

    def queue(self, job_id: str, now: datetime) -> None:
        self.phase, self.job_id, self.last_error, self.queued_at = SyncPhase.QUEUED, job_id, None, now

    def start(self, now: datetime) -> None:
        self.phase, self.started_at, self.finished_at, self.progress = SyncPhase.RUNNING, now, None, SyncProgress()

    def finish(self, now: datetime) -> bool:
        """True when this ends an error episode (the account recovered)."""
        recovered = self.failing_since is not None
        self.phase, self.finished_at, self.last_error = SyncPhase.IDLE, now, None
        self.lease_owner = self.lease_expires_at = None
        self.failing_since = None
        if self.first_synced_at is None:
            self.first_synced_at = now
        return recovered

    def fail(self, now: datetime, error: str) -> bool:
        """True when this starts an error episode; the retries that fail after it are the same episode."""
        starts = self.failing_since is None
        self.phase, self.finished_at, self.last_error = SyncPhase.FAILED, now, error[:500]
        self.lease_owner = self.lease_expires_at = None
        if starts:
            self.failing_since = now
        return starts

    def release(self) -> None:
        """The worker stops before finishing (it is shutting down): the lease is given back at once, and the sync
        counts as stalled, so a request for it (SyncAccount makes one, else the scheduler) queues it again."""
        self.phase, self.queued_at = SyncPhase.QUEUED, None
        self.lease_owner = self.lease_expires_at = None

    def due(self, now: datetime, interval: timedelta) -> bool:
        """Whether the scheduler should queue this account again."""
        if self.in_progress:
            return self.stalled(now)
        return self.finished_at is None or self.finished_at + interval <= now

    def lease_free(self, now: datetime) -> bool:
        return self.lease_owner is None or self.lease_expires_at is None or self.lease_expires_at <= now

    def take_lease(self, owner: str, now: datetime, ttl: timedelta) -> None:
        self.lease_owner, self.lease_expires_at = owner, now + ttl
