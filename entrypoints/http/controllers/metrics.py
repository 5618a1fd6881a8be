"""GET /metrics: Prometheus's text exposition, for scrapers; not part of the REST API's schema. Not authenticated:
expose it only where the scraper can reach it."""

import asyncio
import logging
import time
from dataclasses import dataclass

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from application.backlog import Backlog, ReadBacklog
from domain.ports.persistence import TenantScope
from entrypoints.metrics import exposition

log = logging.getLogger("mailroom.metrics")

READ_TIMEOUT = 5.0
"""A slow database costs the scrape the backlog gauges, never the scrape."""

READING_KEPT = 10.0
"""/metrics takes no credentials: within this many seconds a scrape reuses the last reading (or the last failure to
read), so that asking again and again does not make the database count again and again."""


@dataclass
class _Reading:
    taken_at: float = float("-inf")
    backlog: Backlog | None = None


_last = _Reading()


@get("/metrics", include_in_schema=False)
@inject
async def metrics(read: FromDishka[ReadBacklog], scope: FromDishka[TenantScope]) -> Response[bytes]:
    """Replaces Litestar's PrometheusController, which in multiprocess mode serves the folder's metrics alone: this
    adds the queue depth and the backlog, read here across tenants (entrypoints.metrics.exposition)."""
    now = time.monotonic()
    if now - _last.taken_at >= READING_KEPT:
        _last.taken_at, _last.backlog = now, None
        try:
            with scope.system():
                _last.backlog = await asyncio.wait_for(read(), READ_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - the scrape goes on without these gauges
            log.warning("backlog for the metrics not read: %s", type(error).__name__)
    return Response(exposition(_last.backlog), media_type=CONTENT_TYPE_LATEST)
