from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class JobQueue(Protocol):
    async def enqueue(self, task_name: str, **arguments: str) -> str:
        """Queues a background task by name with plain-id arguments; returns the job id."""
        ...


class HealthProbe(Protocol):
    @property
    def name(self) -> str: ...

    async def check(self) -> None:
        """Returns when the dependency answers; raises DependencyUnavailable otherwise."""
        ...
