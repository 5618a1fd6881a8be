import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import DependencyUnavailable
from domain.ports.runtime import HealthProbe


@dataclass(frozen=True, slots=True)
class HealthReport:
    checks: dict[str, bool]

    @property
    def healthy(self) -> bool:
        return all(self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, ok in self.checks.items() if not ok]


class CheckHealth:
    """Asks every dependency at once; a probe that hangs past `timeout` seconds counts as failed."""

    def __init__(self, probes: Sequence[HealthProbe], timeout: float = 2.0) -> None:
        self._probes = probes
        self._timeout = timeout

    async def __call__(self) -> HealthReport:
        results = await asyncio.gather(*(self._probe(p) for p in self._probes))
        return HealthReport(checks=dict(zip((p.name for p in self._probes), results, strict=True)))

    async def _probe(self, probe: HealthProbe) -> bool:
        try:
            await asyncio.wait_for(probe.check(), self._timeout)
        except (DependencyUnavailable, TimeoutError):
            return False
        return True
