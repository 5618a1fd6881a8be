from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
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


class Listener(Protocol):
    async def wait(self, seconds: float) -> set[str]:
        """The keys rung since the last call, waiting up to `seconds` for one; empty when none came."""
        ...


class Doorbell(Protocol):
    """A wake-up across processes, rung after a commit: those listening re-read the store, which stays the truth,
    so a ring lost on the way only delays them until they look again of their own accord. Topics: CHANGES_TOPIC
    (key: a tenant id, its change log grew) and ACCOUNTS_TOPIC (key: an account id, created, changed or deleted)."""

    async def ring(self, topic: str, key: str) -> None: ...

    def listen(self, topic: str) -> AbstractAsyncContextManager[Listener]:
        """Rings of `topic` from the moment this is entered."""
        ...


CHANGES_TOPIC = "changes"
ACCOUNTS_TOPIC = "accounts"
