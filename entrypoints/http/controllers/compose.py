"""Drafts and sending (paths kept from the replaced service): compose, save, read, change, delete, send."""

from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath, HeaderParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from application.compose.drafts import CreateDraft, DeleteDraft, GetDraft, UpdateDraft
from application.compose.send import QueueSend
from domain.access import Scope
from domain.auth import Principal
from domain.errors import InvalidInput
from entrypoints.http.access import SCOPE
from entrypoints.http.compose_body import read_compose
from entrypoints.http.openapi import CREATED_LOCATION, created, problems
from entrypoints.http.schemas.compose import DraftOut, SendIn, SendQueued

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        max_length=255,
        description="the same key again answers the first result instead of sending twice",
    ),
]


class ComposeController(Controller):
    path = "/api/compose"
    tags = ["drafts"]

    @post(
        status_code=HTTP_201_CREATED,
        operation_id="createDraft",
        summary="Create a draft",
        description="JSON, or multipart/form-data whose file parts are attachments (for files too large for "
        "base64 in JSON). `from` defaults to the account's address; it may be the address or one of its aliases. "
        "A reply names `in_reply_to` (a stored message id) and gets its threading headers from it.",
        responses=problems(404),
        response_headers=[CREATED_LOCATION],
    )
    @inject
    async def compose(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        create: FromDishka[CreateDraft],
    ) -> Response[DraftOut]:
        body, compose = await read_compose(request)
        if isinstance(body.id, UUID):
            raise InvalidInput("id", "POST /api/compose creates a draft; save one by id with POST /api/compose/draft")
        view = await create(principal, compose)
        return created(DraftOut.of(view), f"/api/compose/{view.draft.id}")

    @post(
        "/draft",
        operation_id="saveDraft",
        summary="Save a draft: creates it, or updates the one named by `id`",
        description="The call of the replaced service: 201 with `Location` for a new draft, 200 for the draft "
        "named by `id`, whose fields left out keep their values.",
        responses={
            200: ResponseSpec(data_container=DraftOut, description="The draft named by `id`, updated"),
            **problems(404, 409),
        },
        response_headers=[CREATED_LOCATION],
    )
    @inject
    async def save(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        create: FromDishka[CreateDraft],
        update: FromDishka[UpdateDraft],
    ) -> Response[DraftOut]:
        body, compose = await read_compose(request)
        if isinstance(body.id, UUID):
            updated = await update(principal, body.id, compose)
            return Response(DraftOut.of(updated), status_code=HTTP_200_OK)
        view = await create(principal, compose)
        return created(DraftOut.of(view), f"/api/compose/{view.draft.id}")

    @get(
        "/{draft_id:uuid}",
        operation_id="getDraft",
        summary="A draft with its send status, attempts and the last SMTP reply",
        description="Its HTML is shown sanitised; the draft keeps, and sends, what was written.",
        responses=problems(404),
    )
    @inject
    async def draft(
        self,
        draft_id: FromPath[UUID],
        principal: FromDishka[Principal],
        get_draft: FromDishka[GetDraft],
    ) -> DraftOut:
        return DraftOut.of(await get_draft(principal, draft_id))

    @put(
        "/{draft_id:uuid}",
        operation_id="updateDraft",
        summary="Change a draft; fields left out keep their values",
        description="A failed draft becomes a draft again; one queued, being sent or sent cannot change (409).",
        responses=problems(404, 409),
    )
    @inject
    async def change(
        self,
        draft_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        update: FromDishka[UpdateDraft],
    ) -> DraftOut:
        body, compose = await read_compose(request)
        if isinstance(body.id, UUID) and body.id != draft_id:
            raise InvalidInput("id", "names another draft than the path")
        return DraftOut.of(await update(principal, draft_id, compose))

    @delete(
        "/{draft_id:uuid}",
        operation_id="deleteDraft",
        summary="Delete a draft, or cancel its queued or scheduled send",
        description="A draft being sent right now stays (409).",
        responses=problems(404, 409),
    )
    @inject
    async def remove(
        self, draft_id: FromPath[UUID], principal: FromDishka[Principal], delete_draft: FromDishka[DeleteDraft]
    ) -> None:
        await delete_draft(principal, draft_id)

    @post(
        "/{draft_id:uuid}/send",
        status_code=202,
        operation_id="sendDraft",
        summary="Send now, or at `send_at`; done by a job",
        description="The message is built and checked now (413 over the size limit); a job hands it to the SMTP "
        "server, with retries, and files a copy in Sent. The same `Idempotency-Key` again answers the first "
        "result. Follow it with `GET /api/compose/{draft_id}`. An API key needs the `send` scope.",
        responses=problems(404, 409),
        opt={SCOPE: Scope.SEND},
    )
    @inject
    async def send(
        self,
        draft_id: FromPath[UUID],
        principal: FromDishka[Principal],
        queue_send: FromDishka[QueueSend],
        idempotency_key: IdempotencyKey = None,
        data: Annotated[SendIn | None, Body(description="optional; `send_at` schedules the send")] = None,
    ) -> SendQueued:
        send_at = data.send_at if data else None
        draft = await queue_send(principal, draft_id, send_at, idempotency_key)
        return SendQueued(job_id=draft.job_id or "", status="queued", draft_id=draft.id, send_at=draft.send_at)
