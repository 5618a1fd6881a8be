"""The background tasks: their names, and how their arguments travel to the worker.

This is a wire format. Jobs queued by one release are run by the next (a deployment upgrades its API and
workers while jobs wait in the queue), so a task's name, its arguments' names and their encoding stay as they
are; a change of meaning takes a new task name. Arguments are strings: ids in their canonical text, flags
"true" or "false" (an absent flag is left as it is).
"""

from uuid import UUID

from domain.ports.runtime import JobQueue

SYNC_TASK = "sync_account"
WRITE_FLAGS_TASK = "write_flags"
MOVE_TASK = "move_message"
DELETE_TASK = "delete_message"
SEND_TASK = "send_draft"
DELIVER_WEBHOOKS_TASK = "deliver_webhooks"

# Run by the scheduler, with no arguments.
DUE_SYNCS_TASK = "enqueue_due_syncs"
DUE_SENDS_TASK = "enqueue_due_sends"
SEARCH_INDEX_TASK = "catch_up_search_index"
COLLECT_BLOBS_TASK = "collect_blobs"
WEBHOOK_SWEEP_TASK = "enqueue_webhook_work"
PRUNE_CHANGES_TASK = "prune_changes"
PRUNE_SESSIONS_TASK = "prune_sessions"

_TRUE, _FALSE = "true", "false"


def encode_flag(value: bool) -> str:
    return _TRUE if value else _FALSE


def decode_flag(value: str | None) -> bool | None:
    return None if value is None else value == _TRUE


class BackgroundJobs:
    """The tasks a use case queues, with typed arguments, through the JobQueue port. Each goes under a job id
    the caller chose, so the caller can record the job before it is sent."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    async def deliver_webhooks(self, job_id: str, tenant_id: UUID) -> None:
        await self._queue.enqueue(DELIVER_WEBHOOKS_TASK, job_id, tenant_id=str(tenant_id))

    async def sync_account(self, job_id: str, tenant_id: UUID, account_id: UUID) -> None:
        await self._queue.enqueue(SYNC_TASK, job_id, tenant_id=str(tenant_id), account_id=str(account_id))

    async def write_flags(
        self,
        job_id: str,
        tenant_id: UUID,
        message_id: UUID,
        *,
        seen: bool | None = None,
        flagged: bool | None = None,
        answered: bool | None = None,
    ) -> None:
        """Only the flags named travel; the job leaves the others on the server as they are."""
        named = (("seen", seen), ("flagged", flagged), ("answered", answered))
        flags = {name: encode_flag(value) for name, value in named if value is not None}
        await self._queue.enqueue(
            WRITE_FLAGS_TASK, job_id, tenant_id=str(tenant_id), message_id=str(message_id), **flags
        )

    async def move_message(self, job_id: str, tenant_id: UUID, message_id: UUID, mailbox_id: UUID) -> None:
        await self._queue.enqueue(
            MOVE_TASK, job_id, tenant_id=str(tenant_id), message_id=str(message_id), mailbox_id=str(mailbox_id)
        )

    async def delete_message(self, job_id: str, tenant_id: UUID, message_id: UUID) -> None:
        await self._queue.enqueue(DELETE_TASK, job_id, tenant_id=str(tenant_id), message_id=str(message_id))

    async def send_draft(self, job_id: str, tenant_id: UUID, draft_id: UUID) -> None:
        await self._queue.enqueue(SEND_TASK, job_id, tenant_id=str(tenant_id), draft_id=str(draft_id))
