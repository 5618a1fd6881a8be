"""Why a server turned a sync or a send away, as the use cases report it to the worker's metrics: by kind (a refused
login, a failed TLS handshake, a connection that went), never by parsing the words of the error."""

import pytest

from application.sync.sync_account import SyncRun
from domain.drafts import DraftStatus
from domain.errors import ConnectionFailed, DeliveryFailed, LoginRefused, MailServerRejected, TlsFailed
from domain.rejections import Rejection, RejectionKind, rejection_of
from domain.sync import SyncPhase
from tests.unit.application.compose.test_outbox import Outbox
from tests.unit.application.sync.test_sync_account import World, mail

TLS_FAILED = TlsFailed("imap", "TLS failed: CERTIFICATE_VERIFY_FAILED (certificate has expired)")


async def sync_once(world: World) -> SyncRun:
    account = await world.account()
    return await world.sync().run(account.tenant_id, account.id, "w")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TLS_FAILED, RejectionKind.TLS),
        (ConnectionFailed("imap", "timed out"), RejectionKind.CONNECTION),
        (LoginRefused("imap", "NO [AUTHENTICATIONFAILED]"), RejectionKind.LOGIN_REFUSED),
        (MailServerRejected("imap", "server does not allow it"), RejectionKind.OTHER),
    ],
)
async def test_a_sync_the_server_turns_away_says_how(error: MailServerRejected, kind: RejectionKind) -> None:
    world = World()
    world.server.refuses_connection = error
    run = await sync_once(world)
    assert run.sync.phase is SyncPhase.FAILED
    assert run.sync.last_error == error.message, "the user sees the server's words, unchanged"
    assert run.rejected == Rejection("imap", kind)


async def test_a_sync_that_finishes_or_loses_one_folder_was_not_turned_away() -> None:
    world = World()
    world.server.deliver("INBOX", mail("one"))
    run = await sync_once(world)
    assert (run.sync.phase, run.rejected) == (SyncPhase.IDLE, None)
    world = World()
    world.server.failing_folders["INBOX"] = False
    run = await sync_once(world)
    assert (run.sync.phase, run.rejected) == (SyncPhase.FAILED, None), "a folder refused is the folder's failure"


async def test_each_send_attempt_the_server_turns_away_is_counted_by_kind() -> None:
    outbox = Outbox()
    outbox.fakes.servers.send_failures = [
        DeliveryFailed("cannot connect to smtp.example.com:465: timed out", permanent=False, connection=True),
        DeliveryFailed("TLS failed: CERTIFICATE_VERIFY_FAILED (Hostname mismatch)", permanent=False, tls=True),
    ]
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    run = await outbox.deliver().run(outbox.user.tenant_id, draft_id, "worker")
    assert run.status is DraftStatus.SENT
    assert run.rejected == (Rejection("smtp", RejectionKind.CONNECTION), Rejection("smtp", RejectionKind.TLS))


async def test_a_refused_login_and_a_refused_recipient_are_told_apart() -> None:
    outbox = Outbox()
    outbox.fakes.servers.accept("smtp.example.com", "alice", "another password")
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    run = await outbox.deliver().run(outbox.user.tenant_id, draft_id, "worker")
    assert (run.status, run.rejected) == (DraftStatus.FAILED, (Rejection("smtp", RejectionKind.LOGIN_REFUSED),))

    outbox = Outbox()
    outbox.fakes.servers.send_failures = [DeliveryFailed("550 5.1.1 no such user", permanent=True)]
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    run = await outbox.deliver().run(outbox.user.tenant_id, draft_id, "worker")
    assert (run.status, run.rejected) == (DraftStatus.FAILED, (Rejection("smtp", RejectionKind.OTHER),))


async def test_a_send_mailroom_itself_refuses_is_no_server_rejection() -> None:
    outbox = Outbox()
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    outbox.blobs.blobs.clear()  # the message built at queue time is gone
    run = await outbox.deliver().run(outbox.user.tenant_id, draft_id, "worker")
    assert (run.status, run.rejected) == (DraftStatus.FAILED, ())


def test_a_verify_login_failure_keeps_its_kind_whichever_error_carries_it() -> None:
    assert rejection_of(TlsFailed("smtp", "TLS failed")) == Rejection("smtp", RejectionKind.TLS)
    refused = DeliveryFailed("535 5.7.8 credentials invalid", permanent=True, login_refused=True)
    assert rejection_of(refused) == Rejection("smtp", RejectionKind.LOGIN_REFUSED)
