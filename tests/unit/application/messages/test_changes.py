"""What a client changes on a stored message (application/messages/changes.py): flags change in the store at
once and a job writes them to the server; a move or a delete is a job, queued for the caller's own message only."""

from uuid import UUID

import pytest

from adapters.memory.imap import FakeImapFolder
from adapters.mime.sanitizer import Nh3HtmlSanitizer
from application.jobs import DELETE_TASK, MOVE_TASK, WRITE_FLAGS_TASK
from application.messages.changes import ChangeFlags, DeleteMessage, MoveMessage
from application.messages.read import HtmlDisplay, ShowHtml, ViewMessage
from application.messages.write_back import ApplyDelete
from domain.errors import InvalidInput, NotFound
from domain.messages import Flags
from tests.unit.stored_mail import StoredMail, mail, stranger


@pytest.fixture
def world() -> StoredMail:
    world = StoredMail()
    world.server.deliver("INBOX", mail("lunch"), Flags(seen=True, answered=True))
    world.server.folders["Archive"] = FakeImapFolder()
    world.server.folders["Trash"] = FakeImapFolder(special_use=["\\Trash"])
    return world


DISPLAY = HtmlDisplay(lambda message_id, attachment_id: f"/api/messages/{message_id}/attachments/{attachment_id}")


def change_flags(world: StoredMail) -> ChangeFlags:
    return ChangeFlags(world.fakes.uow, world.jobs, ViewMessage(ShowHtml(Nh3HtmlSanitizer())), world.fakes.clock)


def flags_on_server(world: StoredMail) -> Flags:
    return world.server.folders["INBOX"].messages[1].flags


@pytest.mark.parametrize(
    ("seen", "flagged", "flags", "arguments"),
    [
        (False, None, Flags(seen=False, answered=True), {"seen": "false"}),
        (None, True, Flags(seen=True, flagged=True, answered=True), {"flagged": "true"}),
        (False, True, Flags(seen=False, flagged=True, answered=True), {"seen": "false", "flagged": "true"}),
    ],
)
async def test_flags_change_in_the_store_at_once_and_a_job_writes_only_the_named_ones_to_the_server(
    world: StoredMail, seen: bool | None, flagged: bool | None, flags: Flags, arguments: dict[str, str]
) -> None:
    account = await world.synced_account()
    message = world.message(account, "lunch")

    changed = await change_flags(world)(world.user, message.id, seen, flagged, DISPLAY)

    assert changed.message.flags == flags
    assert world.message(account, "lunch").flags == flags, "the store has the new flags before the job runs"
    ids = {"tenant_id": str(world.user.tenant_id), "message_id": str(message.id)}
    assert [(task, args) for _, task, args in world.jobs.jobs] == [(WRITE_FLAGS_TASK, ids | arguments)]
    assert flags_on_server(world) == Flags(seen=True, answered=True), "the server is the job's to change"


async def test_a_change_that_names_no_flag_is_refused(world: StoredMail) -> None:
    account = await world.synced_account()
    message = world.message(account, "lunch")

    with pytest.raises(InvalidInput) as refused:
        await change_flags(world)(world.user, message.id, None, None, DISPLAY)

    assert refused.value.field == "seen"
    assert world.message(account, "lunch").flags == message.flags
    assert world.jobs.jobs == []


async def test_flags_of_another_tenants_message_are_not_found_and_stay(world: StoredMail) -> None:
    account = await world.synced_account()
    message = world.message(account, "lunch")

    with pytest.raises(NotFound):
        await change_flags(world)(stranger(), message.id, False, True, DISPLAY)

    assert world.message(account, "lunch").flags == Flags(seen=True, answered=True)
    assert world.jobs.jobs == []


async def test_a_move_is_queued_and_the_message_stays_where_it_is_until_the_job_runs(world: StoredMail) -> None:
    account = await world.synced_account()
    message, archive = world.message(account, "lunch"), world.folder(account, "Archive")

    job_id = await MoveMessage(world.fakes.uow, world.jobs)(world.user, message.id, archive.id)

    arguments = {"tenant_id": str(world.user.tenant_id), "message_id": str(message.id), "mailbox_id": str(archive.id)}
    assert world.jobs.jobs == [(job_id, MOVE_TASK, arguments)]
    assert world.subjects(account, "INBOX") == ["lunch"]
    assert world.on_server("INBOX") == ["lunch"]


async def test_a_move_to_a_folder_of_another_account_is_not_found(world: StoredMail) -> None:
    account = await world.synced_account()
    other = await world.synced_account("alice@example.org")

    with pytest.raises(NotFound, match="mailbox"):
        await MoveMessage(world.fakes.uow, world.jobs)(
            world.user, world.message(account, "lunch").id, world.folder(other, "Archive").id
        )

    assert world.jobs.jobs == []


async def test_a_move_of_or_to_another_tenants_mail_is_not_found(world: StoredMail) -> None:
    account = await world.synced_account()
    outsider = stranger()
    theirs = await world.synced_account(owner=outsider)
    move = MoveMessage(world.fakes.uow, world.jobs)

    with pytest.raises(NotFound, match="message"):
        await move(outsider, world.message(account, "lunch").id, world.folder(theirs, "Archive").id)
    with pytest.raises(NotFound, match="mailbox"):
        await move(world.user, world.message(account, "lunch").id, world.folder(theirs, "Archive").id)

    assert world.jobs.jobs == []


async def run_delete(world: StoredMail, arguments: dict[str, str]) -> None:
    """What the worker does with a queued delete."""
    apply = ApplyDelete(world.fakes.uow, world.imap, world.fakes.logins, world.fakes.clock)
    await apply(UUID(arguments["tenant_id"]), UUID(arguments["message_id"]))


async def test_a_delete_is_queued_and_its_job_moves_the_message_to_the_trash(world: StoredMail) -> None:
    account = await world.synced_account()
    message = world.message(account, "lunch")

    job_id = await DeleteMessage(world.fakes.uow, world.jobs)(world.user, message.id)

    [(queued_id, task, arguments)] = world.jobs.jobs
    assert (queued_id, task) == (job_id, DELETE_TASK)
    assert arguments == {"tenant_id": str(world.user.tenant_id), "message_id": str(message.id)}
    assert world.subjects(account, "INBOX") == ["lunch"], "nothing changes before the job runs"

    await run_delete(world, arguments)

    assert (world.on_server("INBOX"), world.on_server("Trash")) == ([], ["lunch"])
    assert (world.subjects(account, "INBOX"), world.subjects(account, "Trash")) == ([], ["lunch"])


async def test_deleting_from_the_trash_is_for_good(world: StoredMail) -> None:
    account = await world.synced_account()
    message = world.message(account, "lunch")
    delete = DeleteMessage(world.fakes.uow, world.jobs)
    for _ in range(2):
        await delete(world.user, message.id)
        await run_delete(world, world.jobs.jobs[-1][2])

    assert world.on_server("Trash") == []
    assert world.stored(account) == []


async def test_a_delete_of_another_tenants_message_is_not_found(world: StoredMail) -> None:
    account = await world.synced_account()

    with pytest.raises(NotFound):
        await DeleteMessage(world.fakes.uow, world.jobs)(stranger(), world.message(account, "lunch").id)

    assert world.jobs.jobs == []
    assert world.subjects(account, "INBOX") == ["lunch"]
