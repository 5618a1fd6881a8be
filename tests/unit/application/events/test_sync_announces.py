"""What a sync writes to the change log: nothing per message on an account's first sync, one event per change
after it, and one `account.error` per episode."""

from typing import Any

from domain.changes import ChangeType, LoggedChange, summary_data
from domain.messages import Flags, summary_of
from domain.sync import SyncPhase
from tests.unit.application.sync.test_sync_account import World, mail


async def log_of(world: World, tenant_id: Any, after: int = 0) -> list[LoggedChange]:
    async with world.fakes.uow as uow:
        return await uow.changes.after(tenant_id, after, 10_000)


def types(events: list[LoggedChange]) -> list[str]:
    return [e.change.type.value for e in events]


async def test_the_first_sync_announces_one_account_synced_and_no_message() -> None:
    world = World(batch_size=7)
    account = await world.account()
    for n in range(30):
        world.server.deliver("INBOX", mail(f"m{n}"))
    world.server.deliver("Archive", mail("old"))
    await world.sync()(account.tenant_id, account.id, "w")

    events = await log_of(world, account.tenant_id)
    assert types(events) == ["account.synced"]
    data = events[0].change.data
    assert (data["initial"], data["messages_fetched"], data["mailboxes"]) == (True, 31, 2)
    assert events[0].change.account_id == account.id


async def test_a_first_sync_cut_off_and_resumed_is_still_the_first() -> None:
    world = World(batch_size=2)
    account = await world.account()
    for n in range(7):
        world.server.deliver("INBOX", mail(f"m{n}"))
    world.server.fetches_before_drop = 2
    failed = await world.sync()(account.tenant_id, account.id, "w")
    assert failed.phase is SyncPhase.FAILED
    world.server.fetches_before_drop = None
    await world.sync()(account.tenant_id, account.id, "w")

    events = await log_of(world, account.tenant_id)
    assert types(events) == ["account.error", "account.recovered", "account.synced"]
    assert (events[2].change.data["initial"], events[2].change.data["messages_fetched"]) == (True, 3)


async def test_after_the_first_sync_each_change_is_one_event_with_the_message_as_listed() -> None:
    world = World()
    account = await world.account()
    for n in range(3):
        world.server.deliver("INBOX", mail(f"m{n}"))
    await world.sync()(account.tenant_id, account.id, "w")
    [first] = await log_of(world, account.tenant_id)

    inbox = world.server.folders["INBOX"]
    inbox.messages[1].flags = Flags(seen=True, flagged=True, keywords=frozenset({"$Work"}))
    del inbox.messages[3]
    world.server.deliver("INBOX", mail("new"))
    await world.sync()(account.tenant_id, account.id, "w")

    events = await log_of(world, account.tenant_id, first.sequence)
    assert sorted(types(events)) == ["account.synced", "message.created", "message.deleted", "message.updated"]
    by_type = {e.change.type: e.change.data for e in events}
    stored = {m.subject: m for m in world.messages("INBOX")}
    created = by_type[ChangeType.MESSAGE_CREATED]["message"]
    assert created["subject"] == "new"
    assert created == _json(summary_data(summary_of(stored["new"])))
    updated = by_type[ChangeType.MESSAGE_UPDATED]
    assert updated["message"]["id"] == str(stored["m0"].id)
    assert updated["changes"]["flags"]["before"]["seen"] is False
    assert updated["changes"]["flags"]["after"] == {
        "seen": True, "flagged": True, "answered": False, "draft": False, "deleted": False, "keywords": ["$Work"],
    }  # fmt: skip
    assert by_type[ChangeType.MESSAGE_DELETED]["message"]["subject"] == "m2"
    synced = by_type[ChangeType.ACCOUNT_SYNCED]
    assert (synced["initial"], synced["created"], synced["updated"], synced["deleted"]) == (False, 1, 1, 1)
    assert [e.sequence for e in events] == list(range(first.sequence + 1, first.sequence + 5))


async def test_a_sync_that_finds_nothing_new_says_nothing() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("one"))
    await world.sync()(account.tenant_id, account.id, "w")
    await world.sync()(account.tenant_id, account.id, "w")
    assert types(await log_of(world, account.tenant_id)) == ["account.synced"]


async def test_a_uidvalidity_rebuild_does_not_announce_its_messages_again() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("Archive", mail("a1"))
    world.server.deliver("Archive", mail("a2"))
    await world.sync()(account.tenant_id, account.id, "w")
    world.server.recreate("Archive")
    await world.sync()(account.tenant_id, account.id, "w")

    events = await log_of(world, account.tenant_id)
    assert types(events) == ["account.synced", "account.synced"]
    [archive] = [m for m in world.fakes.uow.store.mailboxes.values() if m.name == "Archive"]
    assert events[1].change.data["rebuilt_mailbox_ids"] == [str(archive.id)]


async def test_a_folder_made_after_the_first_sync_is_announced_with_its_mail_and_a_gone_one_too() -> None:
    world = World()
    world.server.reports_folder_ids = False  # a rename cannot be told from a delete and a create
    account = await world.account()
    world.server.deliver("Old", mail("keep"))
    await world.sync()(account.tenant_id, account.id, "w")
    [old] = [m for m in world.fakes.uow.store.mailboxes.values() if m.name == "Old"]
    world.server.folders["New"] = world.server.folders.pop("Old")
    await world.sync()(account.tenant_id, account.id, "w")

    events = (await log_of(world, account.tenant_id))[1:]
    assert types(events) == ["mailbox.deleted", "mailbox.created", "message.created", "account.synced"]
    assert events[0].change.data["mailbox"]["id"] == str(old.id)
    assert events[1].change.data["mailbox"]["name"] == "New"
    assert events[2].change.data["message"]["subject"] == "keep"


async def test_a_renamed_folder_keeps_its_id_and_mail_and_is_announced_as_renamed() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("Old", mail("keep"))
    await world.sync()(account.tenant_id, account.id, "w")
    [old] = [m for m in world.fakes.uow.store.mailboxes.values() if m.name == "Old"]
    [kept] = world.messages("Old")
    fetched = world.server.bodies_fetched
    world.server.folders["New"] = world.server.folders.pop("Old")
    await world.sync()(account.tenant_id, account.id, "w")

    events = (await log_of(world, account.tenant_id))[1:]
    assert types(events) == ["mailbox.renamed"]
    assert events[0].change.data["mailbox"] == {"id": str(old.id), "name": "New", "role": None}
    assert events[0].change.data["old_name"] == "Old"
    assert world.messages("New") == [kept], "the same message, under the same id"
    assert world.server.bodies_fetched == fetched, "nothing downloaded again"


async def test_an_error_episode_is_announced_once_and_its_end_once() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("one"))
    await world.sync()(account.tenant_id, account.id, "w")
    world.server.refuses_login = "LOGIN failed: authentication failed"
    for _ in range(3):
        failed = await world.sync()(account.tenant_id, account.id, "w")
        assert failed.phase is SyncPhase.FAILED
    world.server.refuses_login = None
    await world.sync()(account.tenant_id, account.id, "w")

    events = (await log_of(world, account.tenant_id))[1:]
    assert types(events) == ["account.error", "account.recovered"]
    assert "imap" in events[0].change.data["reason"]


async def test_a_transaction_rolled_back_leaves_no_event() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("one"))
    await world.sync()(account.tenant_id, account.id, "w")
    uow = world.fakes.uow
    async with uow:
        uow.changes.record((await log_of(world, account.tenant_id))[0].change)
    assert types(await log_of(world, account.tenant_id)) == ["account.synced"]


def _json(data: dict[str, Any]) -> Any:
    import msgspec

    return msgspec.json.decode(msgspec.json.encode(data))
