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
