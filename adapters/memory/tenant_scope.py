from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from domain.ports.persistence import TenantScope


class RecordingTenantScope(TenantScope):
    """The in-memory store holds no rows back; this records the tenants scopes were entered for, and how many
    times the system scope was, for tests."""

    def __init__(self) -> None:
        self.entered: list[UUID] = []
        self.system_entered = 0

    @contextmanager
    def __call__(self, tenant_id: UUID) -> Iterator[None]:
        self.entered.append(tenant_id)
        yield

    @contextmanager
    def system(self) -> Iterator[None]:
        self.system_entered += 1
        yield
