"""Reading stored mail (application/messages/read.py): an attachment is cut out of the stored original, a thread
lists its messages oldest first, and another tenant's message or thread is not found."""

from email.message import EmailMessage

import pytest

from adapters.mime.parser import StdlibMessageParser
from application.messages.read import GetAttachment, GetThread
from domain.errors import NotFound
from domain.ids import new_id
from tests.unit.mail_corpus import plain
from tests.unit.stored_mail import StoredMail, mail, stranger

PDF = b"%PDF-1.4 quarterly figures"


def with_attachments() -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"], message["Message-ID"] = "a@example.com", "report", "<report@example.com>"
    message.set_content("figures attached")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="Q1.pdf")
    message.add_attachment(b"\x89PNG chart", maintype="image", subtype="png", filename="chart.png")
    return message.as_bytes()


@pytest.fixture
def world() -> StoredMail:
    world = StoredMail()
    world.server.deliver("INBOX", with_attachments())
    world.server.deliver("INBOX", mail("lunch"))
    world.server.deliver(
        "INBOX", plain(Subject=b"Re: lunch", Message_ID=b"<r1@x.org>", In_Reply_To=b"<lunch@example.com>")
    )
    world.server.deliver("INBOX", plain(Subject=b"Re: Re: lunch", References=b"<lunch@example.com> <r1@x.org>"))
    return world


def get_attachment(world: StoredMail) -> GetAttachment:
    return GetAttachment(world.fakes.uow, world.blobs, StdlibMessageParser())


async def test_an_attachment_comes_as_its_decoded_bytes_cut_out_of_the_stored_original(world: StoredMail) -> None:
    account = await world.synced_account()
    report = world.message(account, "report")
    pdf, png = report.attachments

    found = await get_attachment(world)(world.user, report.id, pdf.id)

    assert (found.attachment, found.data) == (pdf, PDF)
    assert (await get_attachment(world)(world.user, report.id, png.id)).data == b"\x89PNG chart"


async def test_an_attachment_of_another_message_or_of_another_tenant_is_not_found(world: StoredMail) -> None:
    account = await world.synced_account()
    report, lunch = world.message(account, "report"), world.message(account, "lunch")
    pdf = report.attachments[0]

    with pytest.raises(NotFound):
        await get_attachment(world)(world.user, lunch.id, pdf.id)
    with pytest.raises(NotFound):
        await get_attachment(world)(world.user, report.id, new_id())
    with pytest.raises(NotFound):
        await get_attachment(world)(stranger(), report.id, pdf.id)


async def test_an_attachment_whose_original_lost_that_part_is_not_found(world: StoredMail) -> None:
    """The stored original is the truth: a part the parser cannot find there (a damaged blob) is a 404."""
    account = await world.synced_account()
    report = world.message(account, "report")
    assert report.raw_blob_key is not None
    world.blobs.blobs[report.raw_blob_key] = mail("report")

    with pytest.raises(NotFound, match="attachment"):
        await get_attachment(world)(world.user, report.id, report.attachments[0].id)


async def test_an_attachment_whose_original_is_gone_from_the_blob_store_is_not_found(world: StoredMail) -> None:
    account = await world.synced_account()
    report = world.message(account, "report")
    assert report.raw_blob_key is not None
    await world.blobs.delete(report.raw_blob_key)

    with pytest.raises(NotFound):
        await get_attachment(world)(world.user, report.id, report.attachments[0].id)


async def test_a_thread_lists_its_messages_oldest_first_and_nothing_else(world: StoredMail) -> None:
    account = await world.synced_account()
    thread_id = world.message(account, "Re: lunch").thread_id

    thread = await GetThread(world.fakes.uow)(world.user, thread_id)

    assert [m.subject for m in thread] == ["lunch", "Re: lunch", "Re: Re: lunch"]
    assert {m.thread_id for m in thread} == {thread_id}


async def test_another_tenants_thread_or_an_unknown_one_is_not_found(world: StoredMail) -> None:
    account = await world.synced_account()
    thread_id = world.message(account, "lunch").thread_id

    with pytest.raises(NotFound):
        await GetThread(world.fakes.uow)(stranger(), thread_id)
    with pytest.raises(NotFound):
        await GetThread(world.fakes.uow)(world.user, new_id())
