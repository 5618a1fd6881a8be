"""Listing and searching stored mail (application/messages/search.py): the query is held to the caller's tenant
whatever it names, and an account or folder it names must be the caller's (NotFound otherwise, as if it did not
exist), while one of the caller's with nothing matching is an empty page."""

import pytest

from adapters.memory.imap import FakeImapFolder, FakeImapServer
from application.messages.search import SearchMessages
from domain.auth import Principal
from domain.errors import NotFound
from domain.ids import new_id
from domain.search import MessageQuery, PageAfter
from tests.unit.stored_mail import StoredMail, mail, stranger


@pytest.fixture
def world() -> StoredMail:
    world = StoredMail()
    world.server.deliver("INBOX", mail("budget 2026"))
    world.server.deliver("INBOX", mail("lunch on friday"))
    world.server.folders["Archive"] = FakeImapFolder()
    return world


async def subjects(world: StoredMail, caller: Principal, query: MessageQuery) -> list[str]:
    page = await SearchMessages(world.fakes.uow)(caller, query, PageAfter())
    return [m.subject for m in page.items]


async def test_a_folder_lists_newest_first_and_text_finds_what_matches(world: StoredMail) -> None:
    account = await world.synced_account()
    inbox = world.folder(account, "INBOX")
    tenant = world.user.tenant_id

    listed = await subjects(world, world.user, MessageQuery(tenant, account.id, inbox.id))
    found = await subjects(world, world.user, MessageQuery(tenant, text="budget"))

    assert (listed, found) == (["lunch on friday", "budget 2026"], ["budget 2026"])


async def test_the_query_is_held_to_the_callers_tenant_whatever_it_names(world: StoredMail) -> None:
    await world.synced_account()
    outsider = stranger()
    other_server = FakeImapServer()
    other_server.deliver("INBOX", mail("their budget"))
    await world.synced_account(owner=outsider, server=other_server)

    assert await subjects(world, outsider, MessageQuery(world.user.tenant_id, text="budget")) == ["their budget"]
    assert await subjects(world, world.user, MessageQuery(outsider.tenant_id, text="budget")) == ["budget 2026"]


async def test_an_account_or_folder_of_the_caller_with_nothing_matching_is_an_empty_page(world: StoredMail) -> None:
    account = await world.synced_account()
    archive = world.folder(account, "Archive")

    page = await SearchMessages(world.fakes.uow)(
        world.user, MessageQuery(world.user.tenant_id, account.id, archive.id, text="budget"), PageAfter()
    )

    assert (list(page.items), page.next_cursor) == ([], None)


async def test_another_tenants_account_or_folder_is_not_found(world: StoredMail) -> None:
    await world.synced_account()
    outsider = stranger()
    theirs = await world.synced_account(owner=outsider)
    search = SearchMessages(world.fakes.uow)
    tenant = world.user.tenant_id

    with pytest.raises(NotFound, match="mail account"):
        await search(world.user, MessageQuery(tenant, account_id=theirs.id), PageAfter())
    with pytest.raises(NotFound, match="mailbox"):
        await search(world.user, MessageQuery(tenant, mailbox_id=world.folder(theirs, "INBOX").id), PageAfter())
    with pytest.raises(NotFound, match="mailbox"):
        await search(world.user, MessageQuery(tenant, mailbox_id=new_id()), PageAfter())


async def test_a_folder_of_another_account_than_the_one_named_is_not_found(world: StoredMail) -> None:
    account = await world.synced_account()
    other = await world.synced_account("alice@example.org")
    query = MessageQuery(world.user.tenant_id, account_id=account.id, mailbox_id=world.folder(other, "INBOX").id)

    with pytest.raises(NotFound, match="mailbox"):
        await SearchMessages(world.fakes.uow)(world.user, query, PageAfter())
