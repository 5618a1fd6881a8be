"""What the CLI commands do. Each builds the same container as the API and calls use cases through it."""

import argparse
import asyncio
import json
import logging
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import uvicorn
from dishka import AsyncContainer
from prometheus_client import start_http_server
from taskiq import AsyncBroker
from taskiq.api import run_scheduler_task
from taskiq.receiver import Receiver

from adapters.blobs.s3 import BlobStoreUnreachable
from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.crypto.keyring import Keyring
from adapters.jobs.broker import QUEUE_NAME
from adapters.jobs.depth import RedisQueueDepth
from adapters.jobs.health import RedisBrokerProbe
from adapters.persistence.database import create_engine
from adapters.persistence.migrations import current_revision, head_revision, make_revision, upgrade
from adapters.persistence.roles import grant_service_role, session_role
from application.accounts.check_secrets import CheckStoredSecrets
from application.accounts.rotate_keys import RotateEncryptionKeys
from application.backlog import Backlog, ReadBacklog
from application.users.register import NewUser, RegisterUser
from domain.errors import DependencyUnavailable, DomainError
from domain.ports.persistence import TenantScope
from domain.tenants import Role
from entrypoints.container import build_container
from entrypoints.http.app import create_app, create_served_app
from entrypoints.http.openapi import finish_document
from entrypoints.ioc import MemoryProvider, s3_blob_store
from entrypoints.metrics import backlog_from_loop, clear_multiprocess_dir, watch_backlog, watch_queue_depth
from entrypoints.settings import Settings, load_settings
from entrypoints.worker.runtime import attach_container, create_broker, create_scheduler, worker_providers
from entrypoints.worker.tasks import WORKER_ID, register_tasks
from entrypoints.worker.watchers import kick_webhook_dispatch, watch_inboxes

log = logging.getLogger("mailroom.worker")


def serve(settings: Settings) -> None:
    """Uvicorn's own access log is off: the app writes one line a request, with its id and no query string.
    On SIGTERM uvicorn stops accepting connections and lets requests in flight finish (up to the grace period).
    With MAILROOM_API_WORKERS above 1, uvicorn runs that many processes, each building the app from the
    environment; with PROMETHEUS_MULTIPROC_DIR set they share their metrics through that folder, emptied first
    of an earlier run's (entrypoints.metrics)."""
    clear_multiprocess_dir()
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_seconds),
        "proxy_headers": False,  # it would trust X-Forwarded-For from loopback; see MAILROOM_TRUSTED_PROXIES
    }
    if settings.api_workers > 1:
        # uvicorn kills a process that leaves its supervisor's ping unanswered for `timeout_worker_healthcheck`
        # seconds, starting ones included: 5 by default, less than importing the app takes on a busy machine,
        # where each replacement was killed in turn
        options["timeout_worker_healthcheck"] = 30
        uvicorn.run("entrypoints.http.app:create_served_app", factory=True, workers=settings.api_workers, **options)
    else:
        uvicorn.run(create_served_app(settings), **options)


def openapi_document() -> str:
    """The document `/schema/openapi.json` serves. It depends on the routes alone, so the app is built on the
    in-memory wiring with throwaway settings: no database, broker or secrets are touched."""
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(MemoryProvider(), settings=load_settings({"MAILROOM_DATA_DIR": data_dir}))
        return json.dumps(finish_document(app), indent=2, sort_keys=True) + "\n"


async def migrate(settings: Settings) -> int:
    """As the tables' owner (MAILROOM_MIGRATION_DATABASE_URL, else MAILROOM_DATABASE_URL). Given both, the role of
    MAILROOM_DATABASE_URL is then created if missing and granted the rows of every table, so the service never
    needs the owner's credentials (adapters.persistence.roles)."""
    engine = create_engine(settings.migration_database_url or settings.database_url)
    try:
        await upgrade(engine)
        print(f"database schema at revision {await current_revision(engine)}")
        if settings.migration_database_url and (role := await grant_service_role(engine, settings.database_url)):
            print(f"role {role!r} may read and write the tables")
    except DependencyUnavailable as error:
        print(f"mailroom: {error.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    return 0


async def make_migration(settings: Settings, message: str) -> int:
    engine = create_engine(settings.migration_database_url or settings.database_url)
    try:
        await upgrade(engine)
        await make_revision(engine, message)
    finally:
        await engine.dispose()
    return 0


async def check_before_start(settings: Settings) -> int:
    """`serve`, `worker` and `scheduler` in production start only once `check` passes: among others, never on a
    database role that row-level security does not hold."""
    return await check(settings) if settings.is_production else 0


async def check(settings: Settings) -> int:
    """Prints one line a check and stops at the first failure (the container start-up check)."""
    checks: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        ("settings", lambda: _ok(f"env={settings.env}")),
        ("encryption keys", lambda: _check_keys(settings.keyring())),
        ("database", lambda: _check_database(settings)),
        ("blob store", lambda: _check_blob_store(settings)),
        ("stored secrets", lambda: _check_stored_secrets(settings)),
        ("broker", lambda: _check_broker(settings)),
    ]
    for name, run in checks:
        try:
            detail = await asyncio.wait_for(run(), timeout=10)
        except Exception as error:  # noqa: BLE001 - any failure is reported, never raised
            print(f"{name}: failed ({_describe(error)})")
            return 1
        print(f"{name}: ok ({detail})")
    return 0


async def _check_blob_store(settings: Settings) -> str:
    """An S3 bucket must exist and take the keys before a process that stores mail starts; the folder is made
    when first written."""
    location = settings.blob_location
    if location is None:
        return f"folder {Path(settings.data_dir) / 'blobs'}"
    store = s3_blob_store(settings, location)
    try:
        await store.check()
    finally:
        await store.close()
    return f"s3://{location.bucket}/{location.prefix}"


async def create_user(settings: Settings, tenant: str, email: str, password: str, role: str | None) -> int:
    async with _request_container(settings) as container:
        register = await container.get(RegisterUser)
        try:
            created_tenant, user = await register(NewUser(tenant, email, password, Role(role) if role else None))
        except DomainError as error:
            print(f"mailroom: {error.message}", file=sys.stderr)
            return 1
    print(f"created {user.email} ({user.role}) in tenant {created_tenant.slug} [{created_tenant.id}]")
    return 0


async def rotate_keys(settings: Settings) -> int:
    async with _request_container(settings) as container:
        rotated = await (await container.get(RotateEncryptionKeys))()
    print(f"re-encrypted the passwords of {rotated} account(s) with key {settings.keyring().current_key_id!r}")
    return 0


def generate_key(args: argparse.Namespace) -> int:
    print(Keyring.generate_entry(args.id))
    return 0


async def run_worker(settings: Settings) -> int:
    if settings.redis_url is None:
        print("mailroom: without MAILROOM_REDIS_URL tasks run inside `mailroom serve`", file=sys.stderr)
        return 2
    if await check_before_start(settings) != 0:
        return 1
    broker = create_broker(settings)
    container = build_container(settings, broker, *worker_providers())
    attach_container(broker, container)
    broker.is_worker_process = True
    if settings.worker_metrics_port:
        watch_queue_depth(RedisQueueDepth(settings.redis_url, QUEUE_NAME))
        watch_backlog(backlog_from_loop(lambda: read_backlog(container), asyncio.get_running_loop()))
        start_http_server(settings.worker_metrics_port, addr=settings.host)
    await broker.startup()
    watches = asyncio.create_task(watch_inboxes(container, settings, WORKER_ID)) if settings.idle_enabled else None
    try:
        await _drain_on_signal(broker, settings.shutdown_grace_seconds, settings.worker_concurrency)
    finally:
        if watches is not None:
            watches.cancel()
            await asyncio.gather(watches, return_exceptions=True)
        await broker.shutdown()
        await container.close()
    return 0


async def read_backlog(container: AsyncContainer) -> Backlog:
    """Across tenants, as the scheduler's sweeps read."""
    async with container() as request:
        read = await request.get(ReadBacklog)
        with (await request.get(TenantScope)).system():
            return await read()


async def _drain_on_signal(broker: AsyncBroker, grace_seconds: float, concurrency: int) -> None:
    """Takes jobs until SIGTERM or SIGINT; then takes no more, lets running jobs finish for up to
    `grace_seconds`, and cancels the rest. Taskiq acknowledges a cancelled job, so nothing relies on Redis
    delivering it again: a sync gives its lease back and queues itself anew; a send caught mid-conversation keeps
    its lease, and the scheduler queues the draft again once the lease expires."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker ready: taking jobs from %s, %d at a time", QUEUE_NAME, concurrency)
    with ThreadPoolExecutor() as executor:
        while not stop.is_set():
            receiver = Receiver(
                broker, executor=executor, max_async_tasks=concurrency, wait_tasks_timeout=grace_seconds
            )
            try:
                await receiver.listen(stop)
            except Exception:  # Redis went away: listen again, as Taskiq's own runner does
                log.exception("the job receiver stopped; listening again in a second")
                await asyncio.sleep(1)
    await _end_other_tasks(grace_seconds=0)


async def run_scheduler(settings: Settings) -> int:
    """The scheduler, and the queueing of webhook dispatches when a tenant's change log grows: both run exactly
    once per deployment. The inbox watches run in the workers, spread by leases."""
    if settings.redis_url is None:
        print("mailroom: without MAILROOM_REDIS_URL the scheduler runs inside `mailroom serve`", file=sys.stderr)
        return 2
    if await check_before_start(settings) != 0:
        return 1
    broker = create_broker(settings)
    container = build_container(settings, broker)
    register_tasks(broker)
    await broker.startup()
    work = [
        run_scheduler_task(create_scheduler(broker)),
        _heartbeat(Path(settings.data_dir) / HEARTBEAT_FILE),
        kick_webhook_dispatch(container),
    ]
    try:
        await _until_signalled(asyncio.gather(*work), "scheduler")
    finally:
        await broker.shutdown()
        await container.close()
    return 0


HEARTBEAT_FILE = "scheduler.heartbeat"


async def _heartbeat(path: Path, every_seconds: float = 30) -> None:
    """The scheduler's sign of life for health checks (it has no port): the file's time, renewed while it runs."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(every_seconds)


@asynccontextmanager
async def _request_container(settings: Settings) -> AsyncIterator[AsyncContainer]:
    """Operators' commands cross tenants (creating one, rotating every key)."""
    container = build_container(settings, create_broker(settings))
    try:
        with (await container.get(TenantScope)).system():
            async with container() as request_container:
                yield request_container
    finally:
        await container.close()


async def _until_signalled(work: Awaitable[object], name: str, grace_seconds: float = 5) -> None:
    """Runs `work` until SIGTERM or SIGINT, then cancels it so in-flight tasks are released. Says it is ready
    once the signals are handled.

    Taskiq's scheduler sends each due job from a task of its own, which cancelling its loop leaves running; the
    broker closed under such a send would drop the job with a traceback. So those tasks get `grace_seconds` to
    finish before the caller closes anything, and are cancelled after that."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    log.info("%s ready", name)
    with suppress(asyncio.CancelledError):
        await task
    await _end_other_tasks(grace_seconds)


async def _end_other_tasks(grace_seconds: float) -> None:
    """Lets the event loop's other tasks finish for up to `grace_seconds`, then cancels the rest and waits for
    them, so nothing runs on once the caller closes the broker and the container."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if not others:
        return
    _, left = await asyncio.wait(others, timeout=grace_seconds)
    for task in left:
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=10)


async def _ok(detail: str) -> str:
    return detail


async def _check_keys(keyring: Keyring) -> str:
    cipher = AesGcmCredentialCipher(keyring)
    if cipher.decrypt(cipher.encrypt("probe", "mailroom check")) != "probe":
        raise DependencyUnavailable("encryption round trip failed")
    return f"{len(keyring.keys)} key(s), current {keyring.current_key_id!r}"


async def _check_stored_secrets(settings: Settings) -> str:
    async with _request_container(settings) as container:
        key_ids = await (await container.get(CheckStoredSecrets))()
    return f"decrypted under {', '.join(map(repr, key_ids))}" if key_ids else "none stored yet"


async def _check_database(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    try:
        revision, head = await current_revision(engine), head_revision()
        role = await session_role(engine)
    finally:
        await engine.dispose()
    if revision != head:
        raise DependencyUnavailable(f"schema at {revision or 'nothing'}, expected {head}: run `mailroom migrate`")
    detail = f"{engine.url.get_backend_name()}, schema at {revision}"
    if role is None:
        return detail
    if not role.bypasses_row_security:
        return f"{detail}, role {role.name!r} under row-level security"
    if settings.is_production:
        raise DependencyUnavailable(f"{role.why}, so row-level security does not keep tenants apart: {_ROLE_FIX}")
    return f"{detail}, {role.why}: refused in production"


_ROLE_FIX = (
    "connect as a role of the service's own, neither superuser, BYPASSRLS nor the tables' owner, in"
    " MAILROOM_DATABASE_URL, and give the owner's URL to `mailroom migrate` as MAILROOM_MIGRATION_DATABASE_URL;"
    " migrate then creates that role if missing (e.g. mailroom_app, with the password in its URL) and grants it"
    ' the tables (README, "Running it safely")'
)


async def _check_broker(settings: Settings) -> str:
    if settings.redis_url is None:
        return "in-process"
    await RedisBrokerProbe(settings.redis_url).check()
    return "redis"


def _describe(error: BaseException) -> str:
    if isinstance(error, DomainError):
        return error.message
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, BlobStoreUnreachable):  # names the bucket and the cause, never the keys
        return str(error)
    return type(error).__name__
