from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from domain.ports.persistence import TenantScope


class RecordingTenantScope(TenantScope):
    """The in-memory store holds no rows back; this records the tenants scopes were entered for, for tests."""

    def __init__(self) -> None:
        self.entered: list[UUID] = []

    @contextmanager
    def __call__(self, tenant_id: UUID) -> Iterator[None]:
        self.entered.append(tenant_id)
        yield
