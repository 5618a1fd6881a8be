from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """`batch_size` UIDs are fetched and committed together, so an interrupted sync resumes after the last batch.
    Messages over `max_message_bytes` (RFC822.SIZE) are stored without their body."""

    batch_size: int = 500
    max_message_bytes: int = 50 * 1024 * 1024
    lease_ttl: timedelta = timedelta(minutes=5)
