import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.errors import DependencyUnavailable
from domain.ports.runtime import Clock, HealthProbe, JobQueue


class ManualClock(Clock):
    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    async def sleep(self, seconds: float) -> None:
        """Moves the clock on at once, but still lets other tasks run, as a real sleep would: a retry loop on
        this clock must not starve the event loop."""
        self.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)


@dataclass
class RecordingJobQueue(JobQueue):
    jobs: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    async def enqueue(self, task_name: str, job_id: str, **arguments: str) -> None:
        self.jobs.append((job_id, task_name, arguments))


@dataclass
class SwitchableProbe(HealthProbe):
    """A dependency a test can take down with `up = False`."""

    probe_name: str
    up: bool = True

    @property
    def name(self) -> str:
        return self.probe_name

    async def check(self) -> None:
        if not self.up:
            raise DependencyUnavailable(f"{self.probe_name} is down")
