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
    async def hit(self, key: str, windows: Sequence[int], at: int, amount: int = 1) -> list[tuple[int, int]]:
        """Adds `amount` to `key`'s count in the fixed window of each length in `windows` (seconds) that holds the
        Unix time `at`, in one round trip; for each, (count in the window so far, seconds from `at` until it
        resets). A negative amount with the same `at` takes back what an earlier call counted, in the windows it
        was counted in. Shared by every process that shares the store."""
        ...
