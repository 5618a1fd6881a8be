"""Changing and reading drafts (application/compose/drafts.py): an update changes what it names and keeps the
rest, turns a failed draft back into a draft, never touches one queued, being sent or sent (nor one that became
so meanwhile), and another tenant's draft or account is not found."""

from dataclasses import dataclass, field, replace
from datetime import timedelta
from uuid import UUID

import pytest

from adapters.memory.blobs import MemoryBlobStore
from adapters.mime.sanitizer import Nh3HtmlSanitizer
from application.accounts.create import CreateMailAccount
from application.compose.commands import ComposeRequest, NewAttachment
from application.compose.content import DraftWriter
from application.compose.drafts import CreateDraft, GetDraft, UpdateDraft
from application.messages.read import ShowHtml
from domain.accounts import MailAccount
from domain.auth import Principal
from domain.drafts import Draft, DraftContent, DraftStatus, Outgoing
from domain.errors import Conflict, NotFound
from domain.ids import new_id
from domain.messages import Address, Message
from tests.unit.fakes import Fakes, new_account, principal

MAX_BYTES = 1_000_000
BOB = Address("Bob", "bob@example.org")
SHOW_HTML = ShowHtml(Nh3HtmlSanitizer())


@dataclass
class Drafts:
    fakes: Fakes = field(default_factory=Fakes)
    blobs: MemoryBlobStore = field(default_factory=MemoryBlobStore)
    user: Principal = field(default_factory=principal)

    async def account(self, email: str = "alice@example.com", owner: Principal | None = None) -> MailAccount:
        f = self.fakes
        return await CreateMailAccount(f.uow, f.cipher, f.clock, f.verifier, f.auditor)(
            owner or self.user, new_account(email)
        )

    async def draft(self, account: MailAccount, **fields: object) -> Draft:
        request = replace(ComposeRequest(account_id=account.id, to=(BOB,)), **fields)  # type: ignore[arg-type]
        return (await CreateDraft(self.fakes.uow, self.writer(), self.fakes.clock, SHOW_HTML)(self.user, request)).draft

    def writer(self) -> DraftWriter:
        return DraftWriter(self.blobs, MAX_BYTES)

    def update(self, writer: DraftWriter | None = None) -> UpdateDraft:
        return UpdateDraft(self.fakes.uow, writer or self.writer(), self.fakes.clock, SHOW_HTML)

    async def updated(self, user: Principal, draft_id: UUID, request: ComposeRequest) -> Draft:
        return (await self.update()(user, draft_id, request)).draft

    def stored(self, draft_id: UUID) -> Draft:
        return self.fakes.uow.store.drafts[draft_id]

    def put_in(self, draft: Draft, status: DraftStatus) -> None:
        """Takes the stored draft to `status` the way the outbox does."""
        changed, now = replace(self.stored(draft.id)), self.fakes.clock.now()
        changed.queue(Outgoing("<m@example.com>", now, "blob", 10), "job", now, None, None)
        if status is not DraftStatus.QUEUED:
            changed.start_sending("worker", now, timedelta(minutes=5))
        if status is DraftStatus.SENT:
            changed.mark_sent("250 2.0.0 Ok", now)
        elif status is DraftStatus.FAILED:
            changed.mark_failed("550 5.1.1 no such user", now)
        assert changed.status is status
        self.fakes.uow.store.drafts[draft.id] = changed


@pytest.fixture
def drafts() -> Drafts:
    return Drafts()


async def test_an_update_changes_what_it_names_and_keeps_the_rest(drafts: Drafts) -> None:
    account = await drafts.account()
    draft = await drafts.draft(
        account, subject="Plan", text="Hi Bob", attachments=(NewAttachment("plan.pdf", "application/pdf", b"%PDF"),)
    )
    drafts.fakes.clock.advance(timedelta(minutes=3))

    updated = await drafts.updated(drafts.user, draft.id, ComposeRequest(subject="Plan v2"))

    assert updated.content == replace(draft.content, subject="Plan v2")
    assert (updated.created_at, updated.updated_at) == (draft.created_at, drafts.fakes.clock.now())
    assert drafts.stored(draft.id) == updated


async def test_a_draft_moved_to_another_account_writes_from_that_accounts_address(drafts: Drafts) -> None:
    work = await drafts.account()
    home = await drafts.account("alice@example.org")
    draft = await drafts.draft(work, subject="Plan")

    updated = await drafts.updated(drafts.user, draft.id, ComposeRequest(account_id=home.id))

    assert (updated.account_id, updated.content.sender) == (home.id, Address(home.name, "alice@example.org"))
    assert (updated.content.subject, updated.content.to) == ("Plan", (BOB,))
    assert drafts.stored(draft.id).account_id == home.id


async def test_a_failed_draft_becomes_a_draft_again_when_changed(drafts: Drafts) -> None:
    draft = await drafts.draft(await drafts.account())
    drafts.put_in(draft, DraftStatus.FAILED)

    updated = await drafts.updated(drafts.user, draft.id, ComposeRequest(to=(Address("", "robert@example.org"),)))

    assert (updated.status, updated.outgoing) == (DraftStatus.DRAFT, None)
    assert drafts.stored(draft.id).status is DraftStatus.DRAFT
    assert drafts.stored(draft.id).content.to == (Address("", "robert@example.org"),)


@pytest.mark.parametrize("status", [DraftStatus.QUEUED, DraftStatus.SENDING, DraftStatus.SENT])
async def test_a_draft_on_its_way_out_or_sent_cannot_be_changed(drafts: Drafts, status: DraftStatus) -> None:
    draft = await drafts.draft(await drafts.account(), subject="Plan")
    drafts.put_in(draft, status)
    before, blobs = drafts.stored(draft.id), dict(drafts.blobs.blobs)
    change = ComposeRequest(subject="Changed", attachments=(NewAttachment("late.pdf", "application/pdf", b"%PDF"),))

    with pytest.raises(Conflict):
        await drafts.update()(drafts.user, draft.id, change)

    assert drafts.stored(draft.id) == before
    assert drafts.blobs.blobs == blobs, "refused before any attachment is stored"


async def test_a_draft_queued_for_sending_while_it_was_being_changed_is_not_overwritten(drafts: Drafts) -> None:
    draft = await drafts.draft(await drafts.account(), subject="Plan")

    class SendMeanwhile(DraftWriter):
        """Another request queues the draft for sending while this update writes the new content."""

        async def content(
            self,
            request: ComposeRequest,
            account: MailAccount,
            originals: dict[str, Message],
            current: DraftContent | None = None,
        ) -> DraftContent:
            drafts.put_in(draft, DraftStatus.QUEUED)
            return await super().content(request, account, originals, current)

    with pytest.raises(Conflict, match="meanwhile"):
        await drafts.update(SendMeanwhile(drafts.blobs, MAX_BYTES))(
            drafts.user, draft.id, ComposeRequest(subject="Changed")
        )

    stored = drafts.stored(draft.id)
    assert (stored.status, stored.content.subject) == (DraftStatus.QUEUED, "Plan")


async def test_another_tenants_draft_or_account_is_not_found(drafts: Drafts) -> None:
    draft = await drafts.draft(await drafts.account(), subject="Plan")
    outsider = principal()
    theirs = await drafts.account(owner=outsider)

    with pytest.raises(NotFound, match="draft"):
        await drafts.update()(outsider, draft.id, ComposeRequest(subject="Mine now"))
    with pytest.raises(NotFound, match="mail account"):
        await drafts.update()(drafts.user, draft.id, ComposeRequest(account_id=theirs.id))

    stored = drafts.stored(draft.id)
    assert (stored.account_id, stored.content.subject) == (draft.account_id, "Plan")


async def test_a_draft_is_read_by_its_tenant_only(drafts: Drafts) -> None:
    draft = await drafts.draft(await drafts.account(), subject="Plan")
    get = GetDraft(drafts.fakes.uow, SHOW_HTML)

    assert (await get(drafts.user, draft.id)).draft == draft
    with pytest.raises(NotFound):
        await get(principal(), draft.id)
    with pytest.raises(NotFound):
        await get(drafts.user, new_id())


async def test_a_draft_is_shown_with_its_html_sanitised_and_kept_as_written(drafts: Drafts) -> None:
    written = '<p onclick="steal()">Hi<script>steal()</script></p>'
    account = await drafts.account()
    draft = await drafts.draft(account, html=written)

    shown = await GetDraft(drafts.fakes.uow, SHOW_HTML)(drafts.user, draft.id)
    updated = await drafts.update()(drafts.user, draft.id, ComposeRequest(subject="Plan"))

    for view in (shown, updated):
        assert view.html is not None
        assert "Hi" in view.html.html
        assert "script" not in view.html.html
        assert "onclick" not in view.html.html
    assert drafts.stored(draft.id).content.html == written
