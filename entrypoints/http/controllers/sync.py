from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, post
from litestar.params import FromPath

from application.sync.request import RequestSync
from application.sync.status import GetSyncStatus
from domain.access import Scope
from domain.auth import Principal
from entrypoints.http.access import SCOPE
from entrypoints.http.openapi import problems
from entrypoints.http.schemas.sync import SyncQueued, SyncStatusOut


class SyncController(Controller):
    """Paths kept from the service Mailroom replaces."""

    path = "/api/sync"
    tags = ["sync"]

    @post(
        "/imap/{account_id:uuid}",
        status_code=202,
        operation_id="requestSync",
        summary="Queue a sync (or get the one queued or running)",
        description="A sync already queued is answered as it is; one running is asked to run once more when it "
        "ends. Follow it with `GET /api/sync/status/{account_id}`. A sync changes only Mailroom's copy, so reading "
        "the account is enough (an API key's `read` scope, a read-only grant).",
        responses=problems(404),
        opt={SCOPE: Scope.READ},
    )
    @inject
    async def request_sync(
        self, account_id: FromPath[UUID], principal: FromDishka[Principal], queue_sync: FromDishka[RequestSync]
    ) -> SyncQueued:
        sync = await queue_sync(principal, account_id)
        return SyncQueued(job_id=sync.job_id, status=sync.phase)

    @get(
        "/status/{account_id:uuid}",
        operation_id="getSyncStatus",
        summary="Sync state, progress and folders of an account",
        description="The phase (idle, queued, running, failed), the progress of a running sync, the last error, "
        "and each folder with its message and unread counts.",
        responses=problems(404),
    )
    @inject
    async def sync_status(
        self, account_id: FromPath[UUID], principal: FromDishka[Principal], status: FromDishka[GetSyncStatus]
    ) -> SyncStatusOut:
        return SyncStatusOut.of(await status(principal, account_id))
