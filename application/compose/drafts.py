"""Creating, changing, reading and deleting drafts."""

from dataclasses import dataclass
from uuid import UUID

from application.access.reach import reach_of
from application.accounts.read import reachable_account
from application.compose.commands import ComposeRequest
from application.compose.content import DraftWriter
from application.messages.read import ShowHtml
from domain.access import Reach
from domain.auth import Principal
from domain.drafts import Draft
from domain.errors import Conflict, InvalidInput, NotFound
from domain.html import SafeHtml
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock


async def owned_draft(uow: UnitOfWork, principal: Principal, draft_id: UUID) -> Draft:
    """A draft of an account the caller reaches fully: drafts are the sending side, which a read-only grant does
    not cover. Otherwise NotFound, or PermissionDenied where the caller reaches the account read-only."""
    draft = await uow.drafts.get(principal.tenant_id, draft_id)
    if draft is None:
        raise NotFound("draft not found")
    (await reach_of(uow, principal, draft.account_id)).require(draft.account_id, Reach.FULL, "draft")
    return draft


@dataclass(frozen=True, slots=True)
class DraftView:
    """A draft with its HTML as a client may show it: sanitised, because another user of the tenant may open
    the draft. The draft itself keeps, and sends, what was written."""

    draft: Draft
    html: SafeHtml | None


class CreateDraft:
    def __init__(self, uow: UnitOfWork, writer: DraftWriter, clock: Clock, show_html: ShowHtml) -> None:
        self._uow = uow
        self._writer = writer
        self._clock = clock
        self._show_html = show_html

    async def __call__(self, principal: Principal, request: ComposeRequest) -> DraftView:
        if request.account_id is None:
            raise InvalidInput("account_id", "is required")
        async with self._uow as uow:
            account = await reachable_account(uow, principal, request.account_id, Reach.FULL)
            originals = await self._writer.originals(uow, principal, request)
        content = await self._writer.content(request, account, originals)
        now = self._clock.now()
        draft = Draft(new_id(), principal.tenant_id, account.id, content, created_at=now, updated_at=now)
        async with self._uow as uow:
            await uow.drafts.add(draft)
            await uow.commit()
        return DraftView(draft, await self._show_html(draft.content.html))


class UpdateDraft:
    """Fields the request leaves out keep their values; a failed draft becomes a draft again."""

    def __init__(self, uow: UnitOfWork, writer: DraftWriter, clock: Clock, show_html: ShowHtml) -> None:
        self._uow = uow
        self._writer = writer
        self._clock = clock
        self._show_html = show_html

    async def __call__(self, principal: Principal, draft_id: UUID, request: ComposeRequest) -> DraftView:
        async with self._uow as uow:
            draft = await owned_draft(uow, principal, draft_id)
            if not draft.editable:
                raise Conflict(f"a {draft.status} draft cannot be changed")
            account = await reachable_account(uow, principal, request.account_id or draft.account_id, Reach.FULL)
            originals = await self._writer.originals(uow, principal, request)
        content = await self._writer.content(request, account, originals, draft.content)
        previous = draft.status
        draft.edit(content, self._clock.now())
        draft.account_id = account.id
        async with self._uow as uow:
            if not await uow.drafts.update(draft, expected=previous):
                raise Conflict("the draft was changed or sent meanwhile")
            await uow.commit()
        return DraftView(draft, await self._show_html(draft.content.html))


class GetDraft:
    def __init__(self, uow: UnitOfWork, show_html: ShowHtml) -> None:
        self._uow = uow
        self._show_html = show_html

    async def __call__(self, principal: Principal, draft_id: UUID) -> DraftView:
        async with self._uow as uow:
            draft = await owned_draft(uow, principal, draft_id)
        return DraftView(draft, await self._show_html(draft.content.html))


class DeleteDraft:
    """Deletes a draft, or cancels a queued (or scheduled) send; a draft being sent right now stays."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, draft_id: UUID) -> None:
        async with self._uow as uow:
            draft = await owned_draft(uow, principal, draft_id)
            draft.require_deletable()
            if not await uow.drafts.delete(principal.tenant_id, draft_id):
                raise Conflict("the draft is being sent right now")
            await uow.commit()
