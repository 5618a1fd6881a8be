from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from domain.ports.runtime import JobQueue


class TaskiqJobQueue(JobQueue):
    """Sends tasks by name, so adapters never import the entrypoints that define them."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def enqueue(self, task_name: str, job_id: str, **arguments: str) -> None:
        kicker: AsyncKicker[..., object] = AsyncKicker(task_name=task_name, broker=self._broker, labels={})
        await kicker.with_task_id(job_id).kiq(**arguments)
