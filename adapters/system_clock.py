from datetime import UTC, datetime

from domain.ports.runtime import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)
