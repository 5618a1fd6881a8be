"""Taskiq tasks: plain ids in, one use case called. Taskiq-redis delivers at least once, so each is idempotent:
a second delivery of a sync finds the lease taken, or nothing new to fetch; a second write-back finds the message
already changed, moved or gone. Names and argument encoding come from application.jobs, the wire format shared
with the use cases that queue them. Each runs its use case inside its tenant's scope (or, for the sweeps, the system
scope); dishka builds the use case first, which is fine because a unit of work reads the scope as it opens."""

import asyncio
import logging
import os
import socket
from contextlib import suppress
from typing import Any
from uuid import UUID

from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker

from application.auth.sessions import PruneSessions
from application.blobs.collect import CollectBlobs
from application.compose.deliver import DeliverDraft
from application.compose.outbox import EnqueueDueSends
from application.events.dispatch import DispatchWebhooks, FindWebhookWork, PruneChanges
from application.jobs import (
    COLLECT_BLOBS_TASK,
    DELETE_TASK,
    DELIVER_WEBHOOKS_TASK,
    DUE_SENDS_TASK,
    DUE_SYNCS_TASK,
    MOVE_TASK,
    PRUNE_CHANGES_TASK,
    PRUNE_SESSIONS_TASK,
    SEARCH_INDEX_TASK,
    SEND_TASK,
    SYNC_TASK,
    WEBHOOK_SWEEP_TASK,
    WRITE_FLAGS_TASK,
    BackgroundJobs,
    decode_flag,
)
from application.messages.search_index import CatchUpSearchIndex
from application.messages.write_back import ApplyDelete, ApplyMove, WriteFlags
from application.sync.schedule import EnqueueDueSyncs
from application.sync.sync_account import SyncAccount
from domain.ids import new_id
from domain.ports.persistence import TenantScope
from domain.ports.runtime import JobQueue
from entrypoints.metrics import (
    MESSAGES_SYNCED,
    SENDS,
    SYNC_RUNS,
    count_rejections,
    count_webhook_deliveries,
)

log = logging.getLogger("mailroom.worker")

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


@inject(patch_module=True)
async def sync_account(
    tenant_id: str, account_id: str, sync: FromDishka[SyncAccount], scope: FromDishka[TenantScope]
) -> dict[str, Any]:
    try:
        with scope(UUID(tenant_id)):
            run = await sync.run(UUID(tenant_id), UUID(account_id), WORKER_ID)
    except Exception:
        SYNC_RUNS.labels("error").inc()
        raise
    result = run.sync
    SYNC_RUNS.labels(result.phase.value).inc()
    count_rejections(run.rejected)
    MESSAGES_SYNCED.inc(result.progress.messages_fetched)
    log.info("sync of account %s: %s", account_id, result.phase)
    return {"phase": result.phase.value, "messages_fetched": result.progress.messages_fetched}


@inject(patch_module=True)
async def enqueue_due_syncs(enqueue: FromDishka[EnqueueDueSyncs], scope: FromDishka[TenantScope]) -> int:
    with scope.system():
        return await enqueue()


@inject(patch_module=True)
async def write_flags(
    tenant_id: str,
    message_id: str,
    write: FromDishka[WriteFlags],
    scope: FromDishka[TenantScope],
    seen: str | None = None,
    flagged: str | None = None,
    answered: str | None = None,
) -> None:
    with scope(UUID(tenant_id)):
        await write(UUID(tenant_id), UUID(message_id), decode_flag(seen), decode_flag(flagged), decode_flag(answered))


@inject(patch_module=True)
async def move_message(
    tenant_id: str, message_id: str, mailbox_id: str, move: FromDishka[ApplyMove], scope: FromDishka[TenantScope]
) -> None:
    with scope(UUID(tenant_id)):
        await move(UUID(tenant_id), UUID(message_id), UUID(mailbox_id))


@inject(patch_module=True)
async def delete_message(
    tenant_id: str, message_id: str, remove: FromDishka[ApplyDelete], scope: FromDishka[TenantScope]
) -> None:
    with scope(UUID(tenant_id)):
        await remove(UUID(tenant_id), UUID(message_id))


@inject(patch_module=True)
async def send_draft(
    tenant_id: str, draft_id: str, deliver: FromDishka[DeliverDraft], scope: FromDishka[TenantScope]
) -> str | None:
    with scope(UUID(tenant_id)):
        run = await deliver.run(UUID(tenant_id), UUID(draft_id), WORKER_ID)
    status = run.status
    if status is not None:
        SENDS.labels(status.value).inc()
    count_rejections(*run.rejected)
    return None if status is None else status.value


@inject(patch_module=True)
async def enqueue_due_sends(enqueue: FromDishka[EnqueueDueSends], scope: FromDishka[TenantScope]) -> int:
    with scope.system():
        return await enqueue()


@inject(patch_module=True)
async def catch_up_search_index(catch_up: FromDishka[CatchUpSearchIndex], scope: FromDishka[TenantScope]) -> int:
    with scope.system():
        indexed = await catch_up()
    if indexed:
        log.info("search index: %d messages indexed", indexed)
    return indexed


@inject(patch_module=True)
async def collect_blobs(collect: FromDishka[CollectBlobs], scope: FromDishka[TenantScope]) -> int:
    """Every five minutes, one shard of the blob store (application.blobs.collect.SLOT)."""
    with scope.system():
        deleted = await collect()
    if deleted:
        log.info("blob store: %d blobs no row names any more deleted", deleted)
    return deleted


_dispatching: dict[UUID, asyncio.Event] = {}
"""Tenants this process is dispatching for, each with the event that asks the running dispatch for one more pass."""


@inject(patch_module=True)
async def deliver_webhooks(
    tenant_id: str, dispatch: FromDishka[DispatchWebhooks], scope: FromDishka[TenantScope]
) -> int:
    """One dispatch per tenant and process: a job for a tenant already being dispatched asks that one for another
    pass and ends, so a burst of commits makes one stream of passes, not one concurrent pass each (which would read
    the same events and open their own connections to the same receivers). Between passes the job waits for the
    next retry, when it is due soon enough, or for a new ask. Other processes may dispatch the same tenant at the
    same time: deliveries are claimed one by one."""
    tenant = UUID(tenant_id)
    if (running := _dispatching.get(tenant)) is not None:
        running.set()
        return 0
    again = _dispatching[tenant] = asyncio.Event()
    delivered = 0
    try:
        with scope(tenant):
            while True:
                again.clear()
                counts = await dispatch(tenant)
                count_webhook_deliveries(counts)
                delivered += counts.delivered
                wait = await dispatch.next_retry_in(tenant)
                if again.is_set():
                    continue
                if wait is None:
                    return delivered
                with suppress(TimeoutError):
                    await asyncio.wait_for(again.wait(), wait)
    finally:
        del _dispatching[tenant]


@inject(patch_module=True)
async def enqueue_webhook_work(
    find: FromDishka[FindWebhookWork], jobs: FromDishka[JobQueue], scope: FromDishka[TenantScope]
) -> int:
    """Every minute: retries that came due, and endpoints behind their log (a lost ring, a dead worker's claims)."""
    with scope.system():
        tenants = await find()
    queue = BackgroundJobs(jobs)
    for tenant_id in tenants:
        await queue.deliver_webhooks(new_id().hex, tenant_id)
    return len(tenants)


@inject(patch_module=True)
async def prune_changes(prune: FromDishka[PruneChanges], scope: FromDishka[TenantScope]) -> int:
    with scope.system():
        pruned = await prune()
    if pruned:
        log.info("change log: %d events older than the retention pruned", pruned)
    return pruned


@inject(patch_module=True)
async def prune_sessions(prune: FromDishka[PruneSessions], scope: FromDishka[TenantScope]) -> int:
    with scope.system():
        return await prune()


def register_tasks(broker: AsyncBroker) -> None:
    broker.register_task(sync_account, task_name=SYNC_TASK)
    broker.register_task(write_flags, task_name=WRITE_FLAGS_TASK)
    broker.register_task(move_message, task_name=MOVE_TASK)
    broker.register_task(delete_message, task_name=DELETE_TASK)
    broker.register_task(send_draft, task_name=SEND_TASK)
    broker.register_task(enqueue_due_syncs, task_name=DUE_SYNCS_TASK, schedule=[{"cron": "* * * * *"}])
    broker.register_task(enqueue_due_sends, task_name=DUE_SENDS_TASK, schedule=[{"cron": "* * * * *"}])
    broker.register_task(catch_up_search_index, task_name=SEARCH_INDEX_TASK, schedule=[{"cron": "* * * * *"}])
    broker.register_task(collect_blobs, task_name=COLLECT_BLOBS_TASK, schedule=[{"cron": "*/5 * * * *"}])
    broker.register_task(deliver_webhooks, task_name=DELIVER_WEBHOOKS_TASK)
    broker.register_task(enqueue_webhook_work, task_name=WEBHOOK_SWEEP_TASK, schedule=[{"cron": "* * * * *"}])
    broker.register_task(prune_changes, task_name=PRUNE_CHANGES_TASK, schedule=[{"cron": "17 * * * *"}])
    broker.register_task(prune_sessions, task_name=PRUNE_SESSIONS_TASK, schedule=[{"cron": "23 * * * *"}])
