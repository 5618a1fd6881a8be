from datetime import UTC, datetime
from uuid import uuid4

from adapters.memory.webhooks import ScriptedWebhookTransport
from domain.changes import Change, ChangeType, LoggedChange
from domain.ids import new_id
from domain.webhooks import AttemptOutcome

URL = "https://hooks.example.com/mailroom"


def an_event() -> LoggedChange:
    return LoggedChange(7, Change(new_id(), ChangeType.MESSAGE_CREATED, uuid4(), uuid4(), datetime.now(UTC), {"x": 1}))


async def test_each_url_answers_its_script_in_order_then_200() -> None:
    transport = ScriptedWebhookTransport()
    transport.answer(URL, AttemptOutcome(500, 3), AttemptOutcome(None, 15000, error="timed out after 15 s"))
    event, at = an_event(), datetime.now(UTC)

    answers = [await transport.deliver(URL, "whsec_c2VjcmV0", event, at) for _ in range(3)]
    other = await transport.deliver("https://elsewhere.example.com/", "whsec_b3RoZXI=", event, at)

    assert [a.status_code for a in answers] == [500, None, 200]
    assert other.succeeded
    assert transport.delivered[0] == (URL, "whsec_c2VjcmV0", event, at)
    assert [url for url, *_ in transport.delivered] == [URL, URL, URL, "https://elsewhere.example.com/"]
