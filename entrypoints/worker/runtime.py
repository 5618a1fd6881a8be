"""The Taskiq broker and scheduler of a process, wired to the same dishka container as the API."""

from dishka import AsyncContainer
from dishka.integrations.taskiq import TaskiqProvider, setup_dishka
from taskiq import AsyncBroker, TaskiqScheduler
from taskiq.schedule_sources import LabelScheduleSource

from adapters.jobs.broker import build_broker
from entrypoints.settings import Settings
from entrypoints.worker.job_log import JobLogMiddleware
from entrypoints.worker.tasks import register_tasks


def create_broker(settings: Settings) -> AsyncBroker:
    broker = build_broker(settings.redis_url, redelivery_seconds=settings.job_redelivery_seconds)
    return broker.with_middlewares(JobLogMiddleware())


def attach_container(broker: AsyncBroker, container: AsyncContainer) -> None:
    """Registers the tasks; they get their use cases from `container` through `@inject(patch_module=True)`."""
    register_tasks(broker)
    setup_dishka(container, broker)


def create_scheduler(broker: AsyncBroker) -> TaskiqScheduler:
    """Schedules come from task labels (`schedule=[{"cron": ...}]`); run exactly one scheduler per deployment."""
    return TaskiqScheduler(broker=broker, sources=[LabelScheduleSource(broker)])


def worker_providers() -> list[TaskiqProvider]:
    return [TaskiqProvider()]
