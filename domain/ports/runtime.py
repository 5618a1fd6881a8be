from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Waits; a test's clock moves on at once instead."""
        ...


class JobQueue(Protocol):
    async def enqueue(self, task_name: str, job_id: str, **arguments: str) -> None:
        """Queues a background task by name with plain-id arguments, under a job id the caller chose
        (so the caller can record the job before it is sent)."""
        ...


class HealthProbe(Protocol):
    @property
    def name(self) -> str: ...

    async def check(self) -> None:
        """Returns when the dependency answers; raises DependencyUnavailable otherwise."""
        ...


class RateCounter(Protocol):
    async def hit(self, key: str, windows: Sequence[int]) -> list[tuple[int, int]]:
        """Counts one request for `key` in the current fixed window of each length in `windows` (seconds), in one
        round trip; for each, (requests counted in the window so far, seconds until it resets). Shared by every
        process that shares the store."""
        ...
