"""Taskiq middleware of the worker: runs each job under the request id it was queued with (a label set by
TaskiqJobQueue), so the job's log lines join the request's, and writes one line when the job ends."""

import logging
import time
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from adapters.correlation import current_request_id
from adapters.jobs.queue import REQUEST_ID_LABEL

log = logging.getLogger("mailroom.jobs")


class JobLogMiddleware(TaskiqMiddleware):
    def __init__(self) -> None:
        super().__init__()
        self._started: dict[str, float] = {}

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        current_request_id.set(str(message.labels.get(REQUEST_ID_LABEL) or f"job-{message.task_id}"))
        self._started[message.task_id] = time.perf_counter()
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        started = self._started.pop(message.task_id, None)
        duration = round((time.perf_counter() - started) * 1000, 2) if started is not None else None
        fields = {"task": message.task_name, "job_id": message.task_id, "duration_ms": duration}
        if result.is_err:
            log.warning("job failed", extra=fields | {"error": type(result.error).__name__})
        else:
            log.info("job", extra=fields)
