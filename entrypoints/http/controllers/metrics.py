"""GET /metrics: Prometheus's text exposition, for scrapers; not part of the REST API's schema. Not authenticated:
expose it only where the scraper can reach it."""

import asyncio
import logging

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from application.backlog import Backlog, ReadBacklog
from domain.ports.persistence import TenantScope
from entrypoints.metrics import exposition

log = logging.getLogger("mailroom.metrics")

READ_TIMEOUT = 5.0
"""A slow database costs the scrape the backlog gauges, never the scrape."""


@get("/metrics", include_in_schema=False)
@inject
async def metrics(read: FromDishka[ReadBacklog], scope: FromDishka[TenantScope]) -> Response[bytes]:
    """Replaces Litestar's PrometheusController, which in multiprocess mode serves the folder's metrics alone: this
    adds the queue depth and the backlog, read here across tenants (entrypoints.metrics.exposition)."""
    backlog: Backlog | None = None
    try:
        with scope.system():
            backlog = await asyncio.wait_for(read(), READ_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - the scrape goes on without these gauges
        log.warning("backlog for the metrics not read: %s", type(error).__name__)
    return Response(exposition(backlog), media_type=CONTENT_TYPE_LATEST)
