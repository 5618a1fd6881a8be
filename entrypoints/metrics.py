"""Prometheus metrics beyond the HTTP ones Litestar's middleware counts: syncs, messages synced, sends, webhook
deliveries and mail servers' rejections by outcome, and what is read when scraped (the job queue's depth, the
webhook and sync backlog). One registry per process: a `mailroom worker` serves it on
MAILROOM_WORKER_METRICS_PORT, the API at /metrics.

The API's processes (MAILROOM_API_WORKERS above 1) each count their own requests. With PROMETHEUS_MULTIPROC_DIR
set, prometheus_client keeps every process's values in files there and /metrics adds them up, whichever process
answers (its multiprocess mode); `mailroom serve` empties the folder as it starts, so a restart does not add the
last run's counts. Every label here has a fixed set of values: no tenant, account or endpoint is ever a label."""

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from application.backlog import Backlog
from application.events.dispatch import DispatchCounts
from domain.rejections import Rejection, RejectionKind

log = logging.getLogger("mailroom.metrics")

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
"""Read by prometheus_client as it is imported; it writes a file there from the first metric defined below, so the
folder must exist by then."""
if MULTIPROCESS_DIR:
    Path(MULTIPROCESS_DIR).mkdir(parents=True, exist_ok=True)
    # A file named for this process's id before this process wrote one is an earlier run's (in a container the API
    # is pid 1 at every start, and a restart keeps the folder): prometheus_client would read its counts as this run's.
    for _stale in Path(MULTIPROCESS_DIR).glob(f"*_{os.getpid()}.db"):
        _stale.unlink(missing_ok=True)

SYNC_RUNS = Counter("mailroom_sync_runs", "Account syncs finished, by outcome", ["outcome"])
MESSAGES_SYNCED = Counter("mailroom_messages_synced", "Messages fetched into the store by syncs")
SENDS = Counter("mailroom_sends", "Send attempts' results, by outcome (sent, queued for a retry, failed)", ["outcome"])
WEBHOOK_DELIVERIES = Counter(
    "mailroom_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered; retry: tried again on the schedule; failed: never again)",
    ["outcome"],
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "mailroom_webhook_endpoints_disabled",
    "Webhook endpoints the dispatcher turned off (410 Gone, or failing over the whole retry schedule)",
)
MAIL_SERVER_REJECTIONS = Counter(
    "mailroom_mail_server_rejections",
    "Syncs and send attempts a mail server (or the OAuth2 provider for its login) turned away, by protocol and kind",
    ["protocol", "kind"],
)
PROTOCOLS = ("imap", "smtp", "oauth2")

# Every series of a bounded label set starts at 0, so the first failure is an increase Prometheus can see.
for _outcome in ("delivered", "retry", "failed"):
    WEBHOOK_DELIVERIES.labels(_outcome)
for _protocol in PROTOCOLS:
    for _kind in RejectionKind:
        MAIL_SERVER_REJECTIONS.labels(_protocol, _kind.value)


def count_webhook_deliveries(counts: DispatchCounts) -> None:
    WEBHOOK_DELIVERIES.labels("delivered").inc(counts.delivered)
    WEBHOOK_DELIVERIES.labels("retry").inc(counts.retry)
    WEBHOOK_DELIVERIES.labels("failed").inc(counts.failed)
    WEBHOOK_ENDPOINTS_DISABLED.inc(counts.endpoints_disabled)


def count_rejections(*rejections: Rejection | None) -> None:
    for rejection in rejections:
        if rejection is not None and rejection.protocol in PROTOCOLS:
            MAIL_SERVER_REJECTIONS.labels(rejection.protocol, rejection.kind.value).inc()


class QueueDepthCollector(Collector):
    def __init__(self) -> None:
        self.read: Callable[[], float | None] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = self.read() if self.read else None
        if depth is not None:
            yield GaugeMetricFamily("mailroom_job_queue_depth", "Jobs waiting or running unacknowledged", value=depth)


class BacklogCollector(Collector):
    """The store's backlog, as last read for this scrape; nothing when it could not be read (a scrape must not
    fail for it). Every process that serves metrics reads the same totals: query them with max(), not sum()."""

    def __init__(self, read: Callable[[], Backlog | None] | None = None) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backlog = self.read() if self.read else None
        if backlog is None:
            return
        yield GaugeMetricFamily(
            "mailroom_webhook_deliveries_due",
            "Webhook deliveries of all tenants due now and not yet made (pending, not claimed by a dispatcher)",
            value=backlog.webhook_deliveries_due,
        )
        yield GaugeMetricFamily(
            "mailroom_accounts_sync_failing",
            "Mail accounts whose syncs have all failed for 30 minutes or more",
            value=backlog.accounts_sync_failing,
        )


QUEUE_DEPTH = QueueDepthCollector()
REGISTRY.register(QUEUE_DEPTH)
BACKLOG = BacklogCollector()
REGISTRY.register(BACKLOG)


def watch_queue_depth(read: Callable[[], float | None] | None) -> None:
    """Where the depth comes from (the Redis queue); None on the embedded default, which has no queue."""
    QUEUE_DEPTH.read = read


def watch_backlog(read: Callable[[], Backlog | None] | None) -> None:
    """Where the process registry's backlog comes from (the worker's metrics port)."""
    BACKLOG.read = read


def backlog_from_loop(
    read: Callable[[], Coroutine[Any, Any, Backlog]], loop: asyncio.AbstractEventLoop, timeout: float = 5.0
) -> Callable[[], Backlog | None]:
    """For the worker's metrics server, which collects in a thread of its own: the read runs on the worker's event
    loop, where the container and its database connections live, and is given up after `timeout` seconds so a
    scrape never hangs on a slow database."""

    def read_now() -> Backlog | None:
        future = asyncio.run_coroutine_threadsafe(read(), loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            log.warning("backlog for the metrics not read: timed out after %ss", timeout)
        except Exception as error:  # noqa: BLE001 - the scrape goes on without these gauges
            log.warning("backlog for the metrics not read: %s", type(error).__name__)
        return None

    return read_now


def exposition(backlog: Backlog | None) -> bytes:
    """The text the API serves at /metrics. In multiprocess mode every process's counters and histograms from the
    folder, added up (the per-process CPU and memory collectors do not exist there); the queue depth and `backlog`
    are read by the answering process, the same totals whichever it is."""
    if MULTIPROCESS_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(QUEUE_DEPTH)
    else:
        registry = REGISTRY
    readings = CollectorRegistry()
    readings.register(BacklogCollector(lambda: backlog))
    return generate_latest(registry) + generate_latest(readings)


def clear_multiprocess_dir() -> None:
    """Before the API's processes start: the files of earlier runs go (their counts would be added to this run's,
    and counters would not start from zero). The files prometheus_client keeps for this process stay: it wrote
    them as this module was imported, holds them open, and they hold zeros."""
    if not MULTIPROCESS_DIR:
        return
    own = f"_{os.getpid()}.db"
    for path in Path(MULTIPROCESS_DIR).glob("*.db"):
        if not path.name.endswith(own):
            path.unlink(missing_ok=True)
