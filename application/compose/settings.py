from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    """`max_message_bytes` caps a built message (attachments included). A temporary SMTP failure is tried again
    after `retry_base * 2**(attempt - 1)` (at most `retry_max`), up to `max_attempts` attempts in all; a wait of
    up to `inline_retry_max` is spent in the same job, a longer one is left to the scheduler. `lease_ttl` must
    outlast one SMTP conversation: a worker still sending when it expires could send twice."""

    max_message_bytes: int = 25 * 1024 * 1024
    max_attempts: int = 6
    retry_base: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(hours=1)
    inline_retry_max: timedelta = timedelta(seconds=60)
    lease_ttl: timedelta = timedelta(minutes=5)

    def retry_delay(self, attempt: int) -> timedelta:
        return min(self.retry_base * (1 << min(max(attempt - 1, 0), 30)), self.retry_max)
