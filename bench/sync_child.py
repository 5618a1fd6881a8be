"""One full first sync and one re-sync of the bench account, in its own process so its peak RSS is its own, then
the search indexing the sync deferred (the scheduled job's work).
Prints one JSON line. Usage: python -m bench.sync_child DATABASE_URL DATA_DIR IMAP_HOST IMAP_PORT [SERVICE_URL]

DATABASE_URL is the tables' owner (migrations, the tenant and account); the syncs run through SERVICE_URL when
given: a role under row-level security, as README's "Running it safely" advises, which gets INSERT, not COPY."""

import asyncio
import json
import os
import sys
import time

from application.accounts.commands import NewMailAccount, ServerLogin
from application.accounts.create import CreateMailAccount
from application.messages.search_index import CatchUpSearchIndex
from application.sync.sync_account import SyncAccount
from domain.accounts import Security
from domain.auth import Principal
from domain.ids import new_id
from domain.ports.persistence import TenantScope, UnitOfWork
from domain.tenants import Role, Tenant, User
from entrypoints.container import build_container
from entrypoints.operations import migrate
from entrypoints.settings import Settings, load_settings
from entrypoints.worker.runtime import create_broker


def bench_settings(database_url: str, data_dir: str) -> Settings:
    return load_settings(
        {
            "MAILROOM_DATABASE_URL": database_url,
            "MAILROOM_DATA_DIR": data_dir,
            "MAILROOM_ALLOW_PRIVATE_MAIL_HOSTS": "true",
            "MAILROOM_MAIL_TIMEOUT_SECONDS": "120",
            **{k: v for k, v in os.environ.items() if k.startswith("MAILROOM_SYNC_")},
        }
    )


async def main(database_url: str, data_dir: str, host: str, port: int, service_url: str | None) -> dict[str, float]:
    settings = bench_settings(database_url, data_dir)
    await migrate(settings)
    container = build_container(settings, create_broker(settings))
    async with container() as request:
        uow = await request.get(UnitOfWork)
        tenant = Tenant(new_id(), "bench", "Bench")
        owner = User(new_id(), tenant.id, "bench@bench.test", "-", Role.ADMIN)
        async with uow:
            await uow.tenants.add(tenant)
            await uow.users.add(owner)
            await uow.commit()
        login = ServerLogin(host, port, Security.NONE, "bench@example.test", "bench-password-1")
        account = await (await request.get(CreateMailAccount))(
            Principal(owner.id, tenant.id, Role.ADMIN), NewMailAccount("Bench", login.username, login, login)
        )
    if service_url is not None:
        await container.close()
        service = bench_settings(service_url, data_dir)
        container = build_container(service, create_broker(service))
    figures: dict[str, float] = {}
    for label in ("first", "resync"):
        async with container() as request:
            sync, scope = await request.get(SyncAccount), await request.get(TenantScope)
            started = time.perf_counter()
            with scope(tenant.id):
                result = await sync(tenant.id, account.id, "bench")
            figures[f"{label}_seconds"] = time.perf_counter() - started
            figures[f"{label}_messages"] = result.progress.messages_fetched
            if result.last_error:
                raise SystemExit(f"sync failed: {result.last_error}")
    figures["peak_rss_mb"] = peak_rss_mb()
    async with container() as request:  # what the scheduler's catch_up_search_index job then does
        catch_up, scope = await request.get(CatchUpSearchIndex), await request.get(TenantScope)
        started = time.perf_counter()
        figures["pairs_messages"] = 0
        with scope.system():
            while indexed := await catch_up():  # run after run, as the scheduler would, until the queue is empty
                figures["pairs_messages"] += indexed
        figures["pairs_seconds"] = time.perf_counter() - started
    await container.close()
    return figures


def peak_rss_mb() -> float:
    """VmHWM of this process. Not getrusage's ru_maxrss: Linux carries that across fork and exec, so a child of
    the benchmark would report the parent's peak (which holds the whole raw fetch)."""
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    url, data, host, port = sys.argv[1:5]
    print(json.dumps(asyncio.run(main(url, data, host, int(port), sys.argv[5] if len(sys.argv) > 5 else None))))
