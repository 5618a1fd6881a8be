"""The change log's ways out over HTTP: the feed, the live stream and the webhook endpoints."""

from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from application.events.feed import MAX_PAGE, FollowChanges, ListChanges
from application.events.webhooks import (
    CreateWebhook,
    DeleteWebhook,
    GetWebhook,
    ListDeliveries,
    ListWebhooks,
    SendTestEvent,
    UpdateWebhook,
    WebhookSpec,
)
from domain.auth import Principal
from domain.changes import ChangeFilter, change_document, parse_types
from entrypoints.http.openapi import CREATED_LOCATION, created, problems
from entrypoints.http.schemas.events import (
    AttemptList,
    AttemptOut,
    ChangeOut,
    ChangePage,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookPatch,
    WebhookTestOut,
)

Types = Annotated[
    str | None,
    QueryParameter(
        max_length=1000,
        description="only these event types, comma-separated (`message.created,message.updated`)",
    ),
]
LastEventId = Annotated[
    str | None, HeaderParameter(name="Last-Event-ID", max_length=40, description="the `id:` of the last event received")
]
AccountFilter = Annotated[UUID | None, QueryParameter(description="only this account's events")]


def _wanted(types: str | None, account_id: UUID | None) -> ChangeFilter:
    names = [] if types is None else [name.strip() for name in types.split(",") if name.strip()]
    return ChangeFilter(
        parse_types(names, "types") if names else frozenset(), None if account_id is None else frozenset({account_id})
    )


class ChangesController(Controller):
    tags = ["changes"]

    @get(
        "/api/changes",
        operation_id="listChanges",
        summary="Read the change log after a cursor",
        description="Events oldest first, at most `limit`, after `since`, with the cursor to ask with next. "
        "Without `since`: no events and the current cursor, to follow from now on. An event is in the log once "
        "the change that caused it is committed, and never otherwise. 410 when events after `since` were pruned "
        "(older than the retention): re-read your state, then start again without `since`.",
        responses=problems(410),
    )
    @inject
    async def list_changes(
        self,
        principal: FromDishka[Principal],
        list_changes: FromDishka[ListChanges],
        since: Annotated[str | None, QueryParameter(max_length=40, description="a cursor from this feed")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
        types: Types = None,
        account_id: AccountFilter = None,
    ) -> ChangePage:
        page = await list_changes(principal, since, limit, _wanted(types, account_id))
        return ChangePage([ChangeOut.of(item) for item in page.items], page.next_cursor, page.has_more)

    @get(
        "/api/events/stream",
        operation_id="streamChanges",
        summary="Follow the change log live (Server-Sent Events)",
        description="`text/event-stream`: each event as `id:` (its cursor, the kind `/api/changes` gives), "
        "`event:` (its type) and `data:` (the event as JSON, as the feed's items). Starts from now, or after "
        "`Last-Event-ID` (SSE clients send it when they reconnect) or `since`; a comment line every 15 seconds "
        "keeps proxies from closing the connection. 410 when that cursor's events were pruned.",
        responses=problems(410),
        media_type="text/event-stream",
    )
    @inject
    async def stream(
        self,
        principal: FromDishka[Principal],
        follow: FromDishka[FollowChanges],
        last_event_id: LastEventId = None,
        since: Annotated[
            str | None, QueryParameter(max_length=40, description="a cursor, when no Last-Event-ID")
        ] = None,
        types: Types = None,
        account_id: AccountFilter = None,
    ) -> ServerSentEvent:
        wanted = _wanted(types, account_id)
        start = await follow.start(principal, last_event_id or since, wanted)

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            yield ServerSentEventMessage(data=None, comment="following the change log", retry=2000)
            async for item in follow.follow(principal, start, wanted):
                if item is None:
                    yield ServerSentEventMessage(data=None, comment="heartbeat")
                else:
                    body = msgspec.json.encode(change_document(item)).decode()
                    yield ServerSentEventMessage(data=body, event=item.change.type.value, id=item.cursor)

        return ServerSentEvent(events(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class WebhookController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]

    @post(
        operation_id="createWebhook",
        summary="Add a webhook endpoint",
        description='From now on each event of the chosen types (`["*"]`: all) and accounts (all when '
        "`account_ids` is left out) is POSTed to `url`, signed as Standard Webhooks describe with the `secret` "
        "this answer shows once. At least once: retried with back-off for about three days, then the endpoint is "
        "disabled (`webhook.disabled`), as it is at once when the receiver answers 410. 422 when the URL's host "
        "resolves to an address the deployment may not reach (private, loopback, link-local); 409 when the tenant "
        "has 50 endpoints already.",
        responses=problems(409),
        response_headers=[CREATED_LOCATION],
    )
    @inject
    async def create_webhook(
        self, data: JSONBody[WebhookCreate], principal: FromDishka[Principal], create: FromDishka[CreateWebhook]
    ) -> Response[WebhookCreated]:
        spec = WebhookSpec(url=data.url, events=data.events, account_ids=data.account_ids, description=data.description)
        made = await create(principal, spec)
        body = WebhookCreated(**WebhookOut.fields_of(made.webhook), secret=made.secret)
        return created(body, f"/api/webhooks/{made.webhook.id}")

    @get(operation_id="listWebhooks", summary="List the webhook endpoints", description="Secrets are not shown.")
    @inject
    async def list_webhooks(self, principal: FromDishka[Principal], list_all: FromDishka[ListWebhooks]) -> WebhookList:
        return WebhookList([WebhookOut.of(w) for w in await list_all(principal)])

    @get(
        "/{webhook_id:uuid}",
        operation_id="getWebhook",
        summary="Read a webhook endpoint",
        description="Its settings and whether it is enabled (and why not); the secret is not shown.",
        responses=problems(404),
    )
    @inject
    async def get_webhook(
        self, webhook_id: FromPath[UUID], principal: FromDishka[Principal], get_one: FromDishka[GetWebhook]
    ) -> WebhookOut:
        return WebhookOut.of(await get_one(principal, webhook_id))

    @patch(
        "/{webhook_id:uuid}",
        operation_id="updateWebhook",
        summary="Change a webhook endpoint",
        description="Fields left out keep their values; `account_ids: null` means every account again. "
        "`enabled: true` enables a disabled endpoint from now on (what it missed is in `/api/changes`); "
        "`enabled: false` disables it and drops its pending deliveries.",
        responses=problems(404),
    )
    @inject
    async def update_webhook(
        self,
        webhook_id: FromPath[UUID],
        data: JSONBody[WebhookPatch],
        principal: FromDishka[Principal],
        update: FromDishka[UpdateWebhook],
    ) -> WebhookOut:
        accounts = data.account_ids
        spec = WebhookSpec(
            url=data.url,
            events=data.events,
            account_ids=None if accounts is None or accounts is msgspec.UNSET else accounts,
            all_accounts=accounts is None,
            description=data.description,
            enabled=data.enabled,
        )
        return WebhookOut.of(await update(principal, webhook_id, spec))

    @delete(
        "/{webhook_id:uuid}",
        operation_id="deleteWebhook",
        summary="Remove a webhook endpoint",
        description="With its pending deliveries and their history.",
        responses=problems(404),
    )
    @inject
    async def delete_webhook(
        self, webhook_id: FromPath[UUID], principal: FromDishka[Principal], remove: FromDishka[DeleteWebhook]
    ) -> None:
        await remove(principal, webhook_id)

    @post(
        "/{webhook_id:uuid}/test",
        operation_id="testWebhook",
        summary="Send a test event to the endpoint now",
        description="A `webhook.test` event, signed like every delivery, POSTed at once; the answer says what "
        "the receiver did. The event is not in the change log and is not retried.",
        responses=problems(404),
        status_code=200,
    )
    @inject
    async def test_webhook(
        self, webhook_id: FromPath[UUID], principal: FromDishka[Principal], test: FromDishka[SendTestEvent]
    ) -> WebhookTestOut:
        event, outcome = await test(principal, webhook_id)
        return WebhookTestOut.of(event, outcome)

    @get(
        "/{webhook_id:uuid}/deliveries",
        operation_id="listWebhookDeliveries",
        summary="The endpoint's delivery attempts, newest first",
        description="Each attempt: the event, the receiver's status code (null when none came), how long it "
        "took, the error, and when the next attempt is due (null when none is planned).",
        responses=problems(404),
    )
    @inject
    async def list_deliveries(
        self,
        webhook_id: FromPath[UUID],
        principal: FromDishka[Principal],
        list_attempts: FromDishka[ListDeliveries],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        before: Annotated[UUID | None, QueryParameter(description="an attempt id from a page before")] = None,
    ) -> AttemptList:
        attempts = await list_attempts(principal, webhook_id, before, limit)
        next_before = attempts[-1].id if len(attempts) == limit else None
        return AttemptList([AttemptOut.of(a) for a in attempts], next_before)
