"""The draft's way out, as the domain rules it: states, the lease, retries, and what a header may hold."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.drafts import SEND_PATIENCE, Draft, DraftContent, DraftStatus, Outgoing
from domain.errors import Conflict, InvalidInput
from domain.ids import new_id
from domain.messages import Address

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def draft(**content: object) -> Draft:
    fields: dict[str, object] = {"sender": Address("A", "a@example.com"), "to": (Address("", "b@example.com"),)}
    return Draft(new_id(), new_id(), new_id(), DraftContent(**(fields | content)), NOW, NOW)  # type: ignore[arg-type]


def queued(send_at: datetime | None = None) -> Draft:
    d = draft()
    d.queue(Outgoing("<m@example.com>", NOW, "blob", 10), "job", NOW, send_at, None)
    return d


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"subject": "Hi\r\nBcc: victim@example.org"}, "subject"),
        ({"subject": "Hi\u2028there"}, "subject"),
        ({"sender": Address("Eve\nBcc: x@example.org", "a@example.com")}, "from.name"),
        ({"to": (Address("", "not-an-address"),)}, "to.0.address"),
        ({"cc": (Address("", "b@example.com\r\nX: y"),)}, "cc.0.address"),
        ({"references": ("<a@b>\n<c@d>",)}, "references"),
    ],
)
def test_header_values_with_line_breaks_or_bad_addresses_are_refused(content: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        draft(**content)
    assert error.value.field == field


def test_a_draft_without_recipients_can_be_saved_but_not_sent() -> None:
    d = draft(to=())
    with pytest.raises(InvalidInput, match="at least one recipient"):
        d.queue(Outgoing("<m@x.org>", NOW, "blob", 1), "job", NOW, None, None)
    assert d.status is DraftStatus.DRAFT


def test_bcc_recipients_are_in_the_envelope_once_each() -> None:
    content = draft(cc=(Address("", "b@example.com"),), bcc=(Address("", "c@example.com"),)).content
    assert content.recipients == ["b@example.com", "c@example.com"]


def test_one_lease_at_a_time_and_an_expired_one_can_be_taken_over() -> None:
    d = queued()
    d.start_sending("worker-1", NOW, LEASE)
    assert not d.claimable(NOW + LEASE - timedelta(seconds=1))
    with pytest.raises(Conflict):
        d.start_sending("worker-2", NOW, LEASE)
    assert d.needs_job(NOW + LEASE)
    d.start_sending("worker-2", NOW + LEASE, LEASE)
    assert (d.lease_owner, d.attempts) == ("worker-2", 2)


def test_a_sent_draft_is_never_sent_or_changed_again() -> None:
    d = queued()
    d.start_sending("w", NOW, LEASE)
    d.mark_sent("250 ok", NOW)
    assert not d.claimable(NOW + timedelta(days=1))
    assert not d.needs_job(NOW + timedelta(days=1))
    with pytest.raises(Conflict):
        d.queue(Outgoing("<n@x.org>", NOW, "blob", 1), "job2", NOW, None, None)
    with pytest.raises(Conflict):
        d.edit(d.content, NOW)


def test_a_scheduled_send_waits_for_its_time_and_has_no_job_until_then() -> None:
    later = NOW + timedelta(hours=2)
    d = queued(send_at=later)
    assert d.enqueued_at is None
    assert not d.claimable(NOW)
    assert not d.needs_job(NOW + timedelta(hours=1))
    assert d.needs_job(later)


def test_a_queued_draft_whose_job_was_lost_gets_a_new_one_after_a_while() -> None:
    d = queued()
    assert not d.needs_job(NOW + SEND_PATIENCE - timedelta(seconds=1))
    assert d.needs_job(NOW + SEND_PATIENCE)


def test_a_retry_waits_its_delay_and_a_failed_draft_can_be_edited_and_sent_again() -> None:
    d = queued()
    d.start_sending("w", NOW, LEASE)
    d.retry_later("421 busy", NOW, timedelta(seconds=30), job_waits=False)
    assert d.status is DraftStatus.QUEUED
    assert d.lease_owner is None
    assert not d.claimable(NOW + timedelta(seconds=29))
    assert d.needs_job(NOW + timedelta(seconds=30))
    d.start_sending("w", NOW + timedelta(seconds=30), LEASE)
    d.mark_failed("550 no such user", NOW)
    assert (d.status, d.last_smtp_reply, d.attempts) == (DraftStatus.FAILED, "550 no such user", 2)
    d.edit(d.content, NOW)
    assert d.status is DraftStatus.DRAFT
    assert d.outgoing is None
