"""OAuth2 sign-in on the fakes: accounts given tokens, renewal before expiry and after a refusal, one renewal at a
time, a lost grant (reauth_required: one event, nothing tried after), and what sync and sending do then."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import pytest

from adapters.memory.blobs import MemoryBlobStore
from adapters.memory.imap import FakeImapConnector, FakeImapServer
from adapters.memory.oauth import ScriptedOAuthProviders
from adapters.memory.runtime import RecordingJobQueue
from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.mime.parser import StdlibMessageParser
from application.accounts.commands import (
    MailAccountChanges,
    NewMailAccount,
    ServerLogin,
    ServerLoginChanges,
)
from application.accounts.create import CreateMailAccount
from application.accounts.logins import REAUTH_REQUIRED, MailLogins, imap_session
from application.accounts.read import GetMailAccount
from application.accounts.update import UpdateMailAccount
from application.sync.folder import FolderSync
from application.sync.messages import MessageBuilder
from application.sync.request import SyncRequester
from application.sync.settings import SyncSettings
from application.sync.sync_account import SyncAccount
from domain.accounts import MailAccount, Security
from domain.auth import Principal
from domain.changes import ChangeType
from domain.drafts import DraftStatus
from domain.errors import InvalidInput, LoginRefused, ReauthRequired
from domain.oauth import OAuthProvider, OAuthTokens, ServerDefaults
from domain.rejections import Rejection, RejectionKind
from domain.sync import SyncPhase
from tests.unit.application.compose.test_outbox import Outbox
from tests.unit.fakes import Fakes, principal

EMAIL = "alice@gmail.example"
GOOGLE = OAuthProvider(
    "google",
    ServerDefaults("imap.gmail.example", 993, Security.SSL),
    ServerDefaults("smtp.gmail.example", 465, Security.SSL),
)


@dataclass
class World:
    fakes: Fakes = field(default_factory=Fakes)
    imap: FakeImapServer = field(default_factory=FakeImapServer)
    user: Principal = field(default_factory=principal)
    providers: ScriptedOAuthProviders = field(init=False)

    def __post_init__(self) -> None:
        self.providers = ScriptedOAuthProviders(self.fakes.clock, {"google": GOOGLE})

    def logins(self, uow: MemoryUnitOfWork | None = None) -> MailLogins:
        f = self.fakes
        return MailLogins(uow or f.uow, f.cipher, f.clock, self.providers)

    def tokens(self) -> OAuthTokens:
        issued = self.providers.issue(EMAIL)
        return OAuthTokens("google", issued.access_token, issued.refresh_token, issued.expires_at)

    async def account(self, tokens: OAuthTokens | None = None) -> MailAccount:
        tokens = tokens or self.tokens()
        new = NewMailAccount(
            name="Gmail",
            email=EMAIL,
            imap=ServerLogin("imap.gmail.example", 993, Security.SSL, EMAIL, auth=tokens),
            smtp=ServerLogin("smtp.gmail.example", 465, Security.SSL, EMAIL, auth=tokens),
        )
        f = self.fakes
        create = CreateMailAccount(f.uow, f.cipher, f.clock, f.verifier, f.auditor, providers=self.providers)
        account = await create(self.user, new)
        self.fakes.servers.accept("smtp.gmail.example", EMAIL, tokens.access_token)
        return account

    async def read(self, account_id: UUID) -> MailAccount:
        return await GetMailAccount(self.fakes.uow)(self.user, account_id)

    def events(self, kind: ChangeType) -> list[dict[str, object]]:
        logged = self.fakes.uow.store.changes.values()
        return [dict(entry.change.data) for entry in logged if entry.change.type is kind]

    def sync(self) -> SyncAccount:
        f = self.fakes
        settings = SyncSettings()
        folder = FolderSync(f.uow, MessageBuilder(StdlibMessageParser(), MemoryBlobStore()), f.clock, settings)
        request = SyncRequester(f.uow, RecordingJobQueue(), f.clock)
        return SyncAccount(f.uow, FakeImapConnector(self.imap), self.logins(), f.clock, folder, settings, request)


@pytest.fixture
def world() -> World:
    return World()


async def test_an_account_given_tokens_signs_in_with_them_and_never_shows_them(world: World) -> None:
    tokens = world.tokens()
    account = await world.account(tokens)
    assert account.imap_password is None
    assert account.smtp_password is None
    read = await world.read(account.id)
    assert read.oauth is not None
    assert (read.oauth.provider, read.oauth.reauth_required) == ("google", False)
    assert tokens.access_token not in repr(read)
    assert tokens.refresh_token not in repr(read)

    login = await world.logins().imap(account)
    assert (login.secret, login.bearer) == (tokens.access_token, True)
    assert world.providers.refreshes == 0, "a fresh token is used as it is"


async def test_tokens_for_a_provider_the_deployment_lacks_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput) as refused:
        await world.account(OAuthTokens("yahoo", "at-x", "rt-x"))
    assert refused.value.field == "imap.auth.provider"
    assert world.fakes.uow.store.accounts == {}


async def test_an_account_holds_one_grant_and_a_side_takes_a_password_or_auth_not_both() -> None:
    one, other = OAuthTokens("google", "at-1", "rt-1"), OAuthTokens("google", "at-2", "rt-2")
    with pytest.raises(InvalidInput, match="same grant"):
        NewMailAccount(
            "x",
            EMAIL,
            ServerLogin("h", 993, Security.SSL, EMAIL, auth=one),
            ServerLogin("h", 465, Security.SSL, EMAIL, auth=other),
        )
    with pytest.raises(InvalidInput, match="not both"):
        MailAccountChanges(imap=ServerLoginChanges(password="pw", auth=one))
    with pytest.raises(InvalidInput, match="password or auth"):
        NewMailAccount(
            "x", EMAIL, ServerLogin("h", 993, Security.SSL, EMAIL), ServerLogin("h", 465, Security.SSL, EMAIL, "pw")
        )


async def test_moving_an_oauth_account_to_another_server_needs_the_credentials_again(world: World) -> None:
    account = await world.account()
    f = world.fakes
    update = UpdateMailAccount(f.uow, f.cipher, f.clock, f.verifier, f.auditor, providers=world.providers)
    with pytest.raises(InvalidInput, match="must be given again"):
        await update(world.user, account.id, MailAccountChanges(imap=ServerLoginChanges(host="imap.evil.example")))
    grant = f.uow.store.oauth_grants[account.id]
    moved = await update(
        world.user,
        account.id,
        MailAccountChanges(imap=ServerLoginChanges(host="imap2.gmail.example", auth=world.tokens())),
    )
    assert moved.imap.host == "imap2.gmail.example"
    assert f.uow.store.oauth_grants[account.id].access_token != grant.access_token, "the new grant replaced the old"

    back = await update(
        world.user,
        account.id,
        MailAccountChanges(imap=ServerLoginChanges(password="imap-pw"), smtp=ServerLoginChanges(password="smtp-pw")),
    )
    assert not back.uses_oauth
    assert account.id not in f.uow.store.oauth_grants, "a grant nobody uses is deleted"


async def test_a_token_about_to_expire_is_renewed_first_and_the_rotated_refresh_token_kept(world: World) -> None:
    account = await world.account()
    world.fakes.clock.advance(timedelta(minutes=59))  # within the margin of the one-hour token
    first = await world.logins().imap(account)
    assert world.providers.refreshes == 1
    again = await world.logins().imap(account)
    assert again == first, "the renewed token is stored and used"
    assert world.providers.refreshes == 1

    world.fakes.clock.advance(timedelta(minutes=59))
    await world.logins().imap(account)
    assert world.providers.refreshes == 2, "the second renewal presented the rotated refresh token, not the spent one"


async def test_a_token_the_server_refuses_is_renewed_and_tried_once_more(world: World) -> None:
    account = await world.account()
    refused = await world.logins().imap(account)
    world.imap.refused_tokens.add(refused.secret)
    async with imap_session(FakeImapConnector(world.imap), world.logins(), account):
        pass
    assert next(login.secret for login in world.imap.logins) == refused.secret
    assert len(world.imap.logins) == 2
    assert world.imap.logins[1].secret != refused.secret
    assert world.providers.refreshes == 1


async def test_two_workers_needing_a_renewal_at_once_make_one(world: World) -> None:
    account = await world.account()
    world.fakes.clock.advance(timedelta(hours=2))
    world.providers.gate = asyncio.Event()  # the first worker's renewal is still out when the second needs one
    store = world.fakes.uow.store
    logins = [world.logins(MemoryUnitOfWork(store)) for _ in range(2)]
    tasks = [asyncio.create_task(each.imap(account)) for each in logins]
    for _ in range(10):
        await asyncio.sleep(0)
    assert store.oauth_grants[account.id].renewing_until is not None, "claimed by one"
    world.providers.gate.set()
    first, second = await asyncio.gather(*tasks)
    assert first == second
    assert world.providers.refreshes == 1
    assert store.oauth_grants[account.id].renewing_until is None


async def test_a_token_renewed_moments_ago_and_still_refused_is_not_renewed_again(world: World) -> None:
    """The server refuses the mailbox, not the token (IMAP turned off, a wrong username): every reconnect must not
    rotate the tokens at the provider."""
    account = await world.account()
    world.imap.refuses_login = "AUTHENTICATE failed"
    for _ in range(3):
        with pytest.raises(LoginRefused):
            async with imap_session(FakeImapConnector(world.imap), world.logins(), account):
                pass
    assert world.providers.refreshes == 1


async def test_a_lost_grant_stops_the_account_with_one_event_and_no_more_requests(world: World) -> None:
    account = await world.account()
    world.providers.revoke(EMAIL)
    world.fakes.clock.advance(timedelta(hours=2))

    run = await world.sync().run(account.tenant_id, account.id, "w1")
    outcome = run.sync
    assert outcome.phase is SyncPhase.FAILED
    assert (outcome.last_error or "").startswith(REAUTH_REQUIRED)
    assert run.rejected == Rejection("oauth2", RejectionKind.REAUTH_REQUIRED)
    read = await world.read(account.id)
    assert read.oauth is not None
    assert read.oauth.reauth_required
    [event] = world.events(ChangeType.ACCOUNT_ERROR)
    assert event["reason"] == REAUTH_REQUIRED

    sessions = len(world.imap.logins)
    for _ in range(3):
        world.fakes.clock.advance(timedelta(minutes=10))
        await world.sync()(account.tenant_id, account.id, "w1")
        with pytest.raises(ReauthRequired):
            await world.logins().smtp(account)
    assert len(world.imap.logins) == sessions == 0, "no server was tried"
    assert len(world.events(ChangeType.ACCOUNT_ERROR)) == 1, "one event for the episode"

    # the user signs in again: new tokens clear it
    f = world.fakes
    update = UpdateMailAccount(f.uow, f.cipher, f.clock, f.verifier, f.auditor, providers=world.providers)
    await update(world.user, account.id, MailAccountChanges(imap=ServerLoginChanges(auth=world.tokens())))
    read = await world.read(account.id)
    assert read.oauth is not None
    assert not read.oauth.reauth_required
    outcome = await world.sync()(account.tenant_id, account.id, "w1")
    assert outcome.phase is SyncPhase.IDLE
    assert len(world.events(ChangeType.ACCOUNT_RECOVERED)) == 1


async def test_a_provider_outage_is_a_failure_that_passes_not_a_lost_grant(world: World) -> None:
    account = await world.account()
    world.fakes.clock.advance(timedelta(hours=2))
    world.providers.unavailable = 1
    outcome = await world.sync()(account.tenant_id, account.id, "w1")
    assert outcome.phase is SyncPhase.FAILED
    assert "503" in (outcome.last_error or "")
    assert not (await world.read(account.id)).oauth.reauth_required  # type: ignore[union-attr]
    outcome = await world.sync()(account.tenant_id, account.id, "w1")
    assert outcome.phase is SyncPhase.IDLE


async def test_a_send_for_a_lost_grant_stays_queued_without_using_up_its_tries(world: World) -> None:
    outbox = Outbox(fakes=world.fakes, user=world.user, logins=world.logins())
    outbox.account_id = (await world.account()).id
    draft_id = await outbox.draft()
    await outbox.queue_send()(world.user, draft_id)
    world.providers.revoke(EMAIL)
    world.fakes.clock.advance(timedelta(hours=2))

    assert await outbox.deliver()(world.user.tenant_id, draft_id, "w1") is DraftStatus.QUEUED
    draft = world.fakes.uow.store.drafts[draft_id]
    assert draft.attempts == 0
    assert (draft.last_smtp_reply or "").startswith(REAUTH_REQUIRED)
    assert draft.due_at is not None
    assert draft.due_at > world.fakes.clock.now(), "looked at again later"
    assert outbox.sent == []
    assert len(world.events(ChangeType.ACCOUNT_ERROR)) == 1


async def test_a_send_whose_token_the_server_refuses_is_renewed_and_sent(world: World) -> None:
    outbox = Outbox(fakes=world.fakes, user=world.user, logins=world.logins())
    account = await world.account()
    outbox.account_id = account.id
    draft_id = await outbox.draft()
    await outbox.queue_send()(world.user, draft_id)
    renewed = world.providers.issue(EMAIL)  # what the server now takes; the stored token it refuses
    world.fakes.servers.accept("smtp.gmail.example", EMAIL, renewed.access_token)
    world.providers.issue = lambda email: renewed  # type: ignore[method-assign]

    assert await outbox.deliver()(world.user.tenant_id, draft_id, "w1") is DraftStatus.SENT
    assert world.providers.refreshes == 1
    assert len(outbox.sent) == 1


async def test_a_send_waits_out_a_provider_outage_without_using_up_its_tries(world: World) -> None:
    outbox = Outbox(fakes=world.fakes, user=world.user, logins=world.logins())
    account = await world.account()
    outbox.account_id = account.id
    draft_id = await outbox.draft()
    await outbox.queue_send()(world.user, draft_id)
    world.fakes.clock.advance(timedelta(hours=2))  # the token needs renewing, and the provider is down
    world.providers.unavailable = 10

    for _ in range(4):  # more than OutboxSettings.max_attempts of the test's outbox
        assert await outbox.deliver()(world.user.tenant_id, draft_id, "w1") is DraftStatus.QUEUED
        world.fakes.clock.advance(timedelta(minutes=16))
    draft = world.fakes.uow.store.drafts[draft_id]
    assert draft.attempts == 0
    assert "503" in (draft.last_smtp_reply or "")
    assert not (await world.read(account.id)).oauth.reauth_required  # type: ignore[union-attr]

    world.providers.unavailable = 0
    renewed = world.providers.issue(EMAIL)
    world.fakes.servers.accept("smtp.gmail.example", EMAIL, renewed.access_token)
    world.providers.issue = lambda email: renewed  # type: ignore[method-assign]
    assert await outbox.deliver()(world.user.tenant_id, draft_id, "w1") is DraftStatus.SENT
