from typing import Annotated

from dishka.integrations.litestar import FromDishka, inject
from litestar import get
from litestar.params import QueryParameter

from application.audit import ListAuditEvents
from domain.access import Scope
from domain.auth import Principal
from domain.pagination import MAX_OFFSET, MAX_PAGE_SIZE, PageRequest
from entrypoints.http.access import SCOPE
from entrypoints.http.schemas.audit import AuditEventList, AuditEventOut


@get(
    "/api/audit",
    tags=["audit"],
    operation_id="listAuditEvents",
    summary="The tenant's audit trail, newest first (admins only)",
    description="Who did what and from where: logins, sessions, account and access changes, sends. 403 for a "
    "member who is not an admin of the tenant, or an API key without the `admin` scope.",
    opt={SCOPE: Scope.ADMIN},
)
@inject
async def audit_trail(
    principal: FromDishka[Principal],
    list_events: FromDishka[ListAuditEvents],
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
) -> AuditEventList:
    page = await list_events(principal, PageRequest(limit=limit, offset=offset))
    return AuditEventList(items=[AuditEventOut.of(e) for e in page.items], total=page.total)
