"""Prometheus metrics beyond the HTTP ones Litestar's middleware counts: syncs, messages synced, sends by outcome,
and the job queue's depth (read when scraped). One registry per process: the API serves it at /metrics, a
`mailroom worker` on MAILROOM_WORKER_METRICS_PORT."""

from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

SYNC_RUNS = Counter("mailroom_sync_runs", "Account syncs finished, by outcome", ["outcome"])
MESSAGES_SYNCED = Counter("mailroom_messages_synced", "Messages fetched into the store by syncs")
SENDS = Counter("mailroom_sends", "Send attempts' results, by outcome (sent, queued for a retry, failed)", ["outcome"])


class QueueDepthCollector(Collector):
    def __init__(self) -> None:
        self.read: Callable[[], float | None] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = self.read() if self.read else None
        if depth is not None:
            yield GaugeMetricFamily("mailroom_job_queue_depth", "Jobs waiting or running unacknowledged", value=depth)


QUEUE_DEPTH = QueueDepthCollector()
REGISTRY.register(QUEUE_DEPTH)


def watch_queue_depth(read: Callable[[], float | None] | None) -> None:
    """Where the depth comes from (the Redis queue); None on the embedded default, which has no queue."""
    QUEUE_DEPTH.read = read
