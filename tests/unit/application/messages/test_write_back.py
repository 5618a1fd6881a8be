"""The jobs that carry a client's change to the IMAP server (application/messages/write_back.py): flags, moves and
deletes happen in the message's own folder on the server, then in the store; a job delivered twice, or for a
message gone meanwhile, changes nothing."""

import pytest

from adapters.memory.imap import FakeImapFolder, FakeImapServer
from application.messages.write_back import ApplyDelete, ApplyMove, WriteFlags
from domain.messages import Flags
from tests.unit.stored_mail import StoredMail, mail, stranger


@pytest.fixture
def world() -> StoredMail:
    world = StoredMail()
    world.server.deliver("INBOX", mail("lunch"), Flags(seen=True, flagged=True, keywords=frozenset({"$Work"})))
    world.server.deliver("INBOX", mail("report"))
    world.server.deliver("Archive", mail("old"))
    world.server.folders["Rubbish"] = FakeImapFolder(special_use=["\\Trash"])
    return world


def write_flags(world: StoredMail) -> WriteFlags:
    return WriteFlags(world.fakes.uow, world.imap, world.fakes.logins, world.fakes.clock)


def apply_move(world: StoredMail) -> ApplyMove:
    return ApplyMove(world.fakes.uow, world.imap, world.fakes.logins, world.fakes.clock)


def apply_delete(world: StoredMail) -> ApplyDelete:
    return ApplyDelete(world.fakes.uow, world.imap, world.fakes.logins, world.fakes.clock)


async def test_flags_are_added_and_removed_on_the_server_and_the_others_kept(world: StoredMail) -> None:
    account = await world.synced_account()
    message = world.message(account, "lunch")

    await write_flags(world)(account.tenant_id, message.id, seen=False, flagged=None, answered=True)

    on_server = world.server.folders["INBOX"].messages[message.uid].flags
    assert on_server == Flags(seen=False, flagged=True, answered=True, keywords=frozenset({"$Work"}))


async def test_flags_are_written_to_the_message_in_its_own_folder(world: StoredMail) -> None:
    account = await world.synced_account()
    old = world.message(account, "old")
    assert old.uid == world.message(account, "lunch").uid == 1, "the same UID in two folders"

    await write_flags(world)(account.tenant_id, old.id, seen=True, flagged=None)

    assert world.server.folders["Archive"].messages[1].flags == Flags(seen=True)
    assert world.server.folders["INBOX"].messages[1].flags.seen
    assert not world.server.folders["INBOX"].messages[2].flags.seen


async def test_flags_of_a_message_gone_or_of_another_tenant_are_not_written(world: StoredMail) -> None:
    account = await world.synced_account()
    lunch, report = world.message(account, "lunch"), world.message(account, "report")
    del world.server.folders["INBOX"].messages[lunch.uid]  # another client deleted it after the job was queued,
    await world.sync(account)  # and a sync saw it go
    connections = world.server.sessions_opened

    await write_flags(world)(account.tenant_id, lunch.id, seen=False, flagged=False)
    await write_flags(world)(stranger().tenant_id, report.id, seen=True, flagged=True)

    assert world.server.folders["INBOX"].messages[report.uid].flags == Flags()
    assert world.server.sessions_opened == connections, "no connection for a job with nothing to do"


async def test_a_move_happens_on_the_server_then_in_the_store_under_the_new_uid(world: StoredMail) -> None:
    account = await world.synced_account()
    report, archive = world.message(account, "report"), world.folder(account, "Archive")

    await apply_move(world)(account.tenant_id, report.id, archive.id)

    assert (world.on_server("INBOX"), world.on_server("Archive")) == (["lunch"], ["old", "report"])
    moved = world.message(account, "report")
    assert (moved.id, moved.mailbox_id, moved.uid) == (report.id, archive.id, 2), "same id, the server's new UID"


async def test_without_new_uids_from_the_server_the_moved_message_waits_for_the_next_sync(world: StoredMail) -> None:
    world.server.reports_new_uids = False
    account = await world.synced_account()
    report, archive = world.message(account, "report"), world.folder(account, "Archive")

    await apply_move(world)(account.tenant_id, report.id, archive.id)

    assert world.on_server("Archive") == ["old", "report"]
    assert world.subjects(account, "Archive") == ["old"], "out of the store until the target folder is synced"
    assert world.subjects(account, "INBOX") == ["lunch"]
    await world.sync(account)
    assert world.subjects(account, "Archive") == ["old", "report"]


async def test_a_move_delivered_twice_moves_once(world: StoredMail) -> None:
    account = await world.synced_account()
    report, archive = world.message(account, "report"), world.folder(account, "Archive")
    await apply_move(world)(account.tenant_id, report.id, archive.id)
    connections = world.server.sessions_opened

    await apply_move(world)(account.tenant_id, report.id, archive.id)

    assert world.on_server("Archive") == ["old", "report"]
    assert world.subjects(account, "Archive") == ["old", "report"]
    assert world.server.sessions_opened == connections


async def test_a_move_to_a_folder_not_of_the_messages_account_does_nothing(world: StoredMail) -> None:
    account = await world.synced_account()
    elsewhere = FakeImapServer()
    other = await world.synced_account("alice@example.org", server=elsewhere)
    report = world.message(account, "report")
    connections = world.server.sessions_opened

    await apply_move(world)(account.tenant_id, report.id, world.folder(other, "INBOX").id)

    assert world.on_server("INBOX") == ["lunch", "report"]
    assert world.subjects(account, "INBOX") == ["lunch", "report"]
    assert elsewhere.folders["INBOX"].messages == {}
    assert world.server.sessions_opened == connections


async def test_a_delete_moves_the_message_to_the_folder_the_server_marks_as_trash(world: StoredMail) -> None:
    account = await world.synced_account()
    report = world.message(account, "report")

    await apply_delete(world)(account.tenant_id, report.id)

    assert (world.on_server("INBOX"), world.on_server("Rubbish")) == (["lunch"], ["report"])
    in_trash = world.message(account, "report")
    assert (in_trash.id, in_trash.mailbox_id) == (report.id, world.folder(account, "Rubbish").id)


async def test_a_delete_in_the_trash_is_for_good_and_done_once(world: StoredMail) -> None:
    account = await world.synced_account()
    report = world.message(account, "report")
    await apply_delete(world)(account.tenant_id, report.id)

    await apply_delete(world)(account.tenant_id, report.id)

    assert world.on_server("Rubbish") == []
    assert [m.subject for m in world.stored(account)] == ["lunch", "old"]
    connections = world.server.sessions_opened
    await apply_delete(world)(account.tenant_id, report.id)
    assert world.server.sessions_opened == connections, "delivered again: nothing left to do"
    assert world.on_server("INBOX") == ["lunch"]


async def test_without_a_trash_a_delete_is_for_good(world: StoredMail) -> None:
    del world.server.folders["Rubbish"]
    account = await world.synced_account()

    await apply_delete(world)(account.tenant_id, world.message(account, "report").id)

    assert {name: world.on_server(name) for name in world.server.folders} == {"INBOX": ["lunch"], "Archive": ["old"]}
    assert sorted(m.subject for m in world.stored(account)) == ["lunch", "old"]


async def test_another_tenants_message_is_neither_moved_nor_deleted(world: StoredMail) -> None:
    account = await world.synced_account()
    report = world.message(account, "report")
    outsider = stranger().tenant_id

    await apply_move(world)(outsider, report.id, world.folder(account, "Archive").id)
    await apply_delete(world)(outsider, report.id)

    assert world.on_server("INBOX") == ["lunch", "report"]
    assert world.subjects(account, "INBOX") == ["lunch", "report"]


async def _logged(world: StoredMail, tenant_id: object) -> list[dict[str, object]]:
    async with world.fakes.uow as uow:
        logged = await uow.changes.after(tenant_id, 0, 100)  # type: ignore[arg-type]
    return [{"type": e.change.type.value, **e.change.data} for e in logged]


async def test_a_move_is_announced_as_moved_with_the_same_id_and_a_delete_for_good_as_deleted(
    world: StoredMail,
) -> None:
    account = await world.synced_account()
    report, lunch = world.message(account, "report"), world.message(account, "lunch")
    inbox, archive, rubbish = (world.folder(account, name) for name in ("INBOX", "Archive", "Rubbish"))
    before = len(await _logged(world, account.tenant_id))

    await apply_move(world)(account.tenant_id, report.id, archive.id)
    await apply_delete(world)(account.tenant_id, lunch.id)  # to the Trash: a move
    await apply_delete(world)(account.tenant_id, lunch.id)  # from the Trash: for good

    events = (await _logged(world, account.tenant_id))[before:]
    assert [e["type"] for e in events] == ["message.moved", "message.moved", "message.deleted"]
    moved, trashed, deleted = events
    assert moved["message"]["id"] == str(report.id)  # type: ignore[index]
    assert (moved["from_mailbox_id"], moved["to_mailbox_id"]) == (str(inbox.id), str(archive.id))
    assert (trashed["from_mailbox_id"], trashed["to_mailbox_id"]) == (str(inbox.id), str(rubbish.id))
    assert deleted["message"]["subject"] == "lunch"  # type: ignore[index]
