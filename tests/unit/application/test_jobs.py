"""The background tasks' wire format (application.jobs). Jobs a running deployment queued must still run after an
upgrade, so the task names, the argument names and the flag strings are pinned here as literals, and the worker's
task of each name must accept the arguments queued under it."""

import inspect
from uuid import UUID

import pytest
from taskiq import InMemoryBroker

from adapters.memory.runtime import RecordingJobQueue
from application.jobs import BackgroundJobs, decode_flag, encode_flag
from entrypoints.worker.tasks import register_tasks

TENANT, ITEM, MAILBOX = UUID(int=1), UUID(int=2), UUID(int=3)
T, X, M = str(TENANT), str(ITEM), str(MAILBOX)
QUEUED = [
    ("j1", "sync_account", {"tenant_id": T, "account_id": X}),
    ("j2", "write_flags", {"tenant_id": T, "message_id": X, "seen": "true", "flagged": "false", "answered": "true"}),
    ("j3", "write_flags", {"tenant_id": T, "message_id": X, "answered": "true"}),
    ("j4", "move_message", {"tenant_id": T, "message_id": X, "mailbox_id": M}),
    ("j5", "delete_message", {"tenant_id": T, "message_id": X}),
    ("j6", "send_draft", {"tenant_id": T, "draft_id": X}),
]
SCHEDULED = ["enqueue_due_syncs", "enqueue_due_sends", "catch_up_search_index", "collect_blobs"]


async def queue_one_of_each() -> RecordingJobQueue:
    queue = RecordingJobQueue()
    jobs = BackgroundJobs(queue)
    await jobs.sync_account("j1", TENANT, ITEM)
    await jobs.write_flags("j2", TENANT, ITEM, seen=True, flagged=False, answered=True)
    await jobs.write_flags("j3", TENANT, ITEM, answered=True)
    await jobs.move_message("j4", TENANT, ITEM, MAILBOX)
    await jobs.delete_message("j5", TENANT, ITEM)
    await jobs.send_draft("j6", TENANT, ITEM)
    return queue


async def test_each_task_goes_by_its_name_with_its_ids_as_text_and_only_the_flags_named() -> None:
    assert (await queue_one_of_each()).jobs == QUEUED


async def test_the_worker_has_a_task_of_every_name_that_takes_the_arguments_queued_under_it() -> None:
    broker = InMemoryBroker()
    register_tasks(broker)
    for _, name, arguments in (await queue_one_of_each()).jobs:
        task = broker.find_task(name)
        assert task is not None, name
        inspect.signature(task.original_func).bind(**arguments, dishka_container=None)  # taskiq passes the container
    assert all(broker.find_task(name) is not None for name in SCHEDULED)


@pytest.mark.parametrize(("text", "flag"), [("true", True), ("false", False)])
def test_a_flag_travels_as_true_or_false(text: str, flag: bool) -> None:
    assert (encode_flag(flag), decode_flag(text)) == (text, flag)


def test_a_flag_not_sent_is_left_as_it_is() -> None:
    assert decode_flag(None) is None
