from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from adapters.correlation import current_request_id
from domain.ports.runtime import JobQueue

REQUEST_ID_LABEL = "request_id"


class TaskiqJobQueue(JobQueue):
    """Sends tasks by name, so adapters never import the entrypoints that define them. The current request id
    goes along as a label, so the worker's log lines of the job carry it."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def enqueue(self, task_name: str, job_id: str, **arguments: str) -> None:
        request_id = current_request_id.get()
        labels = {REQUEST_ID_LABEL: request_id} if request_id else {}
        kicker: AsyncKicker[..., object] = AsyncKicker(task_name=task_name, broker=self._broker, labels=labels)
        await kicker.with_task_id(job_id).kiq(**arguments)
