"""The composition root: which adapter serves each port, chosen from Settings.

`app_providers()` gives the production wiring; `MemoryProvider` overrides persistence, mail servers and the
password hasher with the in-memory fakes, for tests and for users' own tests.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dishka import AnyOf, Provider, Scope, from_context, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from adapters.auth.jwt_issuer import JwtConfig, JwtTokenIssuer
from adapters.auth.revocations import LocalRevokedSessions, RedisRevokedSessions
from adapters.blobs.local_folder import LocalFolderBlobStore
from adapters.blobs.s3 import S3BlobStore, S3Location
from adapters.correlation import current_request_id
from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.crypto.scrypt_hasher import ScryptPasswordHasher
from adapters.imap.login_check import AioimaplibLoginCheck
from adapters.imap.session import AioimaplibConnector
from adapters.jobs.health import InProcessBrokerProbe, RedisBrokerProbe
from adapters.jobs.queue import TaskiqJobQueue
from adapters.limits.in_process import InProcessRateCounter
from adapters.limits.redis_counter import RedisRateCounter
from adapters.memory.blobs import MemoryBlobStore
from adapters.memory.imap import FakeImapConnector, FakeImapServer
from adapters.memory.mail import ScriptedImapLoginCheck, ScriptedMailSender, ScriptedMailServers
from adapters.memory.runtime import SwitchableProbe
from adapters.memory.security import PlainPasswordHasher
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.memory.webhooks import ScriptedWebhookTransport
from adapters.mime.composer import StdlibMessageComposer
from adapters.mime.parser import StdlibMessageParser
from adapters.mime.sanitizer import Nh3HtmlSanitizer
from adapters.network import OutboundPolicy
from adapters.oauth.providers import HttpOAuthProviders
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.hand_on import TransactionHandOn
from adapters.persistence.health import DatabaseProbe
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.signals.local import LocalDoorbell
from adapters.signals.redis import RedisDoorbell
from adapters.smtp.pool import ConnectionPool
from adapters.smtp.sender import SmtpMailSender
from adapters.system_clock import SystemClock
from adapters.webhooks.transport import AiohttpWebhookTransport
from application.access.grants import DeleteGrant, ListGrants, PutGrant
from application.access.keys import CreateApiKey, DeleteApiKey, ListApiKeys
from application.accounts.check_secrets import CheckStoredSecrets
from application.accounts.consent import ConsentSettings, FinishConsent, StartConsent
from application.accounts.create import CreateMailAccount
from application.accounts.delete import DeleteMailAccount
from application.accounts.logins import MailLogins
from application.accounts.read import GetMailAccount, ListMailAccounts
from application.accounts.rotate_keys import RotateEncryptionKeys
from application.accounts.update import UpdateMailAccount
from application.accounts.verification import LoginVerifier
from application.audit import Auditor, ListAuditEvents
from application.auth.authenticate import Authenticate, StillSignedIn
from application.auth.login import Login
from application.auth.sessions import (
    Logout,
    PruneSessions,
    Refresh,
    RememberRevokedSessions,
    Sessions,
    SessionSettings,
)
from application.backlog import ReadBacklog
from application.blobs.collect import CollectBlobs
from application.compose.content import DraftWriter
from application.compose.deliver import DeliverDraft
from application.compose.drafts import CreateDraft, DeleteDraft, GetDraft, UpdateDraft
from application.compose.outbox import EnqueueDueSends
from application.compose.send import QueueSend
from application.compose.settings import OutboxSettings
from application.events.dispatch import DispatchWebhooks, FindWebhookWork, PruneChanges
from application.events.feed import FollowChanges, ListChanges
from application.events.settings import EventSettings
from application.events.webhooks import (
    CreateWebhook,
    DeleteWebhook,
    GetWebhook,
    ListDeliveries,
    ListWebhooks,
    SendTestEvent,
    UpdateWebhook,
)
from application.health import CheckHealth
from application.limits import LimitRequests, RateLimits
from application.messages.changes import ChangeFlags, DeleteMessage, MoveMessage
from application.messages.mailboxes import ListMailboxes
from application.messages.read import GetAttachment, GetMessage, GetRawMessage, GetThread, ShowHtml, ViewMessage
from application.messages.search import SearchMessages
from application.messages.search_index import CatchUpSearchIndex
from application.messages.write_back import ApplyDelete, ApplyMove, WriteFlags
from application.sync.folder import FolderSync
from application.sync.messages import MessageBuilder
from application.sync.request import RequestSync, SyncRequester
from application.sync.schedule import EnqueueDueSyncs
from application.sync.settings import SyncSettings
from application.sync.status import GetSyncStatus
from application.sync.sync_account import SyncAccount
from application.sync.watch import WatchInbox
from application.users.admin import ChangePassword, CreateUser, DeleteUser, GetUser, ListUsers, UpdateUser
from application.users.register import RegisterUser
from domain.accounts import TransportPolicy
from domain.audit import RequestOrigin
from domain.limits import Limit, LoginLimits
from domain.ports.html import HtmlSanitizer
from domain.ports.mail import ImapConnector, ImapLoginCheck, MailSender, MessageComposer, MessageParser
from domain.ports.oauth import OAuthProviders
from domain.ports.persistence import ReadHandOn, TenantScope, UnitOfWork
from domain.ports.runtime import Clock, Doorbell, HealthProbe, JobQueue, RateCounter
from domain.ports.security import CredentialCipher, PasswordHasher, RevokedSessions, TokenIssuer
from domain.ports.storage import BlobStore
from domain.ports.webhooks import WebhookTransport
from domain.webhooks import RetrySchedule
from entrypoints.settings import Settings


@dataclass(frozen=True, slots=True)
class HealthProbes:
    database: HealthProbe
    broker: HealthProbe


class ContextProvider(Provider):
    settings = from_context(provides=Settings, scope=Scope.APP)
    broker = from_context(provides=AsyncBroker, scope=Scope.APP)


class PersistenceProvider(Provider):
    scope = Scope.APP

    hand_on = provide(TransactionHandOn, provides=AnyOf[TransactionHandOn, ReadHandOn])

    @provide
    async def engine(self, settings: Settings, hand_on: TransactionHandOn) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database_url)
        hand_on.watch(engine)
        yield engine
        await engine.dispose()

    @provide
    def session_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(engine)

    @provide(scope=Scope.REQUEST)
    async def unit_of_work(
        self, session_factory: async_sessionmaker[AsyncSession], hand_on: TransactionHandOn, doorbell: Doorbell
    ) -> AsyncIterator[UnitOfWork]:
        uow = SqlUnitOfWork(session_factory, hand_on, doorbell=doorbell)
        yield uow
        await uow.close()

    tenant_scope = provide(RowLevelTenantScope, provides=TenantScope)


class SecurityProvider(Provider):
    scope = Scope.APP

    clock = provide(SystemClock, provides=Clock)

    @provide
    def hasher(self) -> PasswordHasher:
        return ScryptPasswordHasher()

    @provide
    def cipher(self, settings: Settings) -> CredentialCipher:
        return AesGcmCredentialCipher(settings.keyring(), accept_unbound=settings.unbound_secrets_accepted)

    @provide
    def tokens(self, settings: Settings, clock: Clock) -> TokenIssuer:
        config = JwtConfig(
            secret=settings.jwt_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            lifetime=timedelta(seconds=settings.jwt_lifetime_seconds),
        )
        return JwtTokenIssuer(config, clock)

    @provide
    async def revoked_sessions(self, settings: Settings, clock: Clock) -> AsyncIterator[RevokedSessions]:
        """In Redis when there is one, so that every API process refuses an ended session at once; else in this
        process, the only one serving the API then. Kept as long as an access token lives, and a little more
        for the issuer's leeway."""
        keep = timedelta(seconds=settings.jwt_lifetime_seconds + 60)
        if settings.redis_url is None:
            yield LocalRevokedSessions(clock, keep)
            return
        revoked = RedisRevokedSessions.for_database(settings.redis_url, keep)
        yield revoked
        await revoked.close()

    @provide
    def session_settings(self, settings: Settings) -> SessionSettings:
        return SessionSettings(refresh_lifetime=timedelta(seconds=settings.refresh_lifetime_seconds))

    sessions = provide(Sessions)


class MailProvider(Provider):
    scope = Scope.APP

    @provide
    def policy(self, settings: Settings) -> OutboundPolicy:
        return OutboundPolicy(
            allow_private=settings.private_mail_hosts_allowed,
            timeout=settings.mail_timeout_seconds,
            ca_file=settings.mail_ca_file,
            allow_plaintext=settings.plaintext_mail_allowed,
        )

    imap_login_check = provide(AioimaplibLoginCheck, provides=ImapLoginCheck)

    @provide
    async def sender(self, policy: OutboundPolicy, settings: Settings) -> AsyncIterator[MailSender]:
        """One connection pool per process, closed with the container."""
        sender = SmtpMailSender(policy, ConnectionPool(per_login=settings.smtp_connections_per_login))
        yield sender
        await sender.close()


class OAuthWiring(Provider):
    scope = Scope.APP

    @provide
    async def providers(self, settings: Settings) -> AsyncIterator[OAuthProviders]:
        """One HTTP client per process for the providers' token endpoints, closed with the container."""
        providers = HttpOAuthProviders(
            {config.name: config for config in settings.oauth}, settings.public_url, settings.mail_timeout_seconds
        )
        yield providers
        await providers.close()

    @provide
    def consent_settings(self, settings: Settings) -> ConsentSettings:
        return ConsentSettings(redirect_origins=settings.redirect_origins)

    @provide(scope=Scope.REQUEST)
    def logins(self, uow: UnitOfWork, cipher: CredentialCipher, clock: Clock, providers: OAuthProviders) -> MailLogins:
        return MailLogins(uow, cipher, clock, providers)

    start_consent = provide(StartConsent, scope=Scope.REQUEST)
    finish_consent = provide(FinishConsent, scope=Scope.REQUEST)


class OutboxProvider(Provider):
    scope = Scope.APP

    @provide
    def settings(self, settings: Settings) -> OutboxSettings:
        return OutboxSettings(
            max_message_bytes=settings.max_message_bytes,
            max_attempts=settings.send_max_attempts,
            retry_base=timedelta(seconds=settings.send_retry_base_seconds),
            retry_max=timedelta(seconds=settings.send_retry_max_seconds),
            lease_ttl=timedelta(seconds=settings.send_lease_seconds),
        )

    @provide
    def composer(self) -> MessageComposer:
        return StdlibMessageComposer()

    @provide
    def writer(self, blobs: BlobStore, settings: OutboxSettings) -> DraftWriter:
        return DraftWriter(blobs, settings.max_message_bytes)

    create_draft = provide(CreateDraft, scope=Scope.REQUEST)
    update_draft = provide(UpdateDraft, scope=Scope.REQUEST)
    get_draft = provide(GetDraft, scope=Scope.REQUEST)
    delete_draft = provide(DeleteDraft, scope=Scope.REQUEST)
    queue_send = provide(QueueSend, scope=Scope.REQUEST)
    deliver_draft = provide(DeliverDraft, scope=Scope.REQUEST)
    due_sends = provide(EnqueueDueSends, scope=Scope.REQUEST)


def s3_blob_store(settings: Settings, location: S3Location) -> S3BlobStore:
    """The bucket's store with the MAILROOM_BLOB_S3_* settings (for the container, and for `mailroom check`)."""
    return S3BlobStore(
        location,
        endpoint=settings.blob_s3_endpoint,
        region=settings.blob_s3_region,
        access_key_id=settings.blob_s3_access_key_id,
        secret_access_key=settings.blob_s3_secret_access_key,
    )


class SyncProvider(Provider):
    scope = Scope.APP

    @provide
    def settings(self, settings: Settings) -> SyncSettings:
        return SyncSettings(
            batch_size=settings.sync_batch_size,
            max_message_bytes=settings.sync_max_message_bytes,
            lease_ttl=timedelta(seconds=settings.sync_lease_seconds),
        )

    @provide
    async def blobs(self, settings: Settings) -> AsyncIterator[BlobStore]:
        """The local folder, or with MAILROOM_BLOB_URL=s3://... one S3 client per process, closed with the
        container."""
        location = settings.blob_location
        if location is None:
            yield LocalFolderBlobStore(Path(settings.data_dir) / "blobs")
            return
        store = s3_blob_store(settings, location)
        yield store
        await store.close()

    @provide
    def parser(self) -> MessageParser:
        return StdlibMessageParser()

    imap_sessions = provide(AioimaplibConnector, provides=ImapConnector)
    builder = provide(MessageBuilder, scope=Scope.REQUEST)
    folder_sync = provide(FolderSync, scope=Scope.REQUEST)
    sync_account = provide(SyncAccount, scope=Scope.REQUEST)
    sync_requester = provide(SyncRequester, scope=Scope.REQUEST)
    request_sync = provide(RequestSync, scope=Scope.REQUEST)
    sync_status = provide(GetSyncStatus, scope=Scope.REQUEST)

    @provide(scope=Scope.REQUEST)
    def watch_inbox(
        self,
        uow: UnitOfWork,
        imap: ImapConnector,
        logins: MailLogins,
        clock: Clock,
        request_sync: SyncRequester,
        settings: Settings,
    ) -> WatchInbox:
        return WatchInbox(uow, imap, logins, clock, request_sync, idle_seconds=settings.idle_seconds)

    due_syncs = provide(EnqueueDueSyncs, scope=Scope.REQUEST)


class JobsProvider(Provider):
    scope = Scope.APP

    @provide
    def job_queue(self, broker: AsyncBroker) -> JobQueue:
        return TaskiqJobQueue(broker)


class LimitsProvider(Provider):
    scope = Scope.APP

    @provide
    async def counter(self, settings: Settings) -> AsyncIterator[RateCounter]:
        """In Redis when there is one, so every API process shares the budget; else in this process."""
        if settings.redis_url is None:
            yield InProcessRateCounter()
            return
        counter = RedisRateCounter(Redis.from_url(settings.redis_url))
        yield counter
        await counter.close()

    @provide
    def limits(self, counter: RateCounter, settings: Settings, clock: Clock) -> LimitRequests:
        api = (Limit(settings.rate_limit_per_minute, 60), Limit(settings.rate_limit_per_hour, 3600))
        login = LoginLimits((Limit(settings.login_limit_per_minute, 60), Limit(settings.login_limit_per_hour, 3600)))
        return LimitRequests(counter, RateLimits(api=api, login=login), clock)


class EventsProvider(Provider):
    """The change log's ways out: the doorbell that wakes streams and dispatchers, webhook deliveries, the feed."""

    scope = Scope.APP

    @provide
    async def doorbell(self, settings: Settings) -> AsyncIterator[Doorbell]:
        """Across processes through Redis pub/sub when there is Redis; else within this process (the embedded
        default runs API, jobs and scheduler in one)."""
        if settings.redis_url is None:
            yield LocalDoorbell()
            return
        doorbell = RedisDoorbell.for_database(settings.redis_url)
        yield doorbell
        await doorbell.close()

    @provide
    def settings(self, settings: Settings) -> EventSettings:
        delays = settings.webhook_retry_delays
        defaults = EventSettings()
        rounds = -(-defaults.claim_batch // defaults.per_endpoint)  # a claim to one endpoint, all at its timeout
        return EventSettings(
            retention=timedelta(days=settings.event_retention_days),
            heartbeat_seconds=settings.stream_heartbeat_seconds,
            retry=RetrySchedule() if delays is None else RetrySchedule(delays),
            lease=timedelta(seconds=settings.webhook_timeout_seconds * rounds + 5),
        )

    @provide
    async def transport(self, settings: Settings) -> AsyncIterator[WebhookTransport]:
        policy = OutboundPolicy(
            allow_private=settings.private_webhook_targets_allowed,
            timeout=settings.webhook_timeout_seconds,
            ca_file=settings.mail_ca_file,
        )
        # room for many tenants' dispatches at once, each at most EventSettings.per_tenant requests
        transport = AiohttpWebhookTransport(policy, timeout=settings.webhook_timeout_seconds, max_connections=500)
        yield transport
        await transport.close()

    list_changes = provide(ListChanges, scope=Scope.REQUEST)
    follow_changes = provide(FollowChanges, scope=Scope.REQUEST)
    create_webhook = provide(CreateWebhook, scope=Scope.REQUEST)
    list_webhooks = provide(ListWebhooks, scope=Scope.REQUEST)
    get_webhook = provide(GetWebhook, scope=Scope.REQUEST)
    update_webhook = provide(UpdateWebhook, scope=Scope.REQUEST)
    delete_webhook = provide(DeleteWebhook, scope=Scope.REQUEST)
    test_webhook = provide(SendTestEvent, scope=Scope.REQUEST)
    list_deliveries = provide(ListDeliveries, scope=Scope.REQUEST)
    dispatch_webhooks = provide(DispatchWebhooks, scope=Scope.REQUEST)
    find_webhook_work = provide(FindWebhookWork, scope=Scope.REQUEST)
    prune_changes = provide(PruneChanges, scope=Scope.REQUEST)


class HealthProvider(Provider):
    @provide(scope=Scope.APP)
    def probes(self, settings: Settings, engine: AsyncEngine) -> HealthProbes:
        broker = RedisBrokerProbe(settings.redis_url) if settings.redis_url else InProcessBrokerProbe()
        return HealthProbes(database=DatabaseProbe(engine), broker=broker)

    @provide(scope=Scope.REQUEST)
    def check_health(self, probes: HealthProbes) -> CheckHealth:
        return CheckHealth([probes.database, probes.broker])

    read_backlog = provide(ReadBacklog, scope=Scope.REQUEST)


class UseCaseProvider(Provider):
    scope = Scope.REQUEST

    login_verifier = provide(LoginVerifier)

    @provide(scope=Scope.APP)
    def transport_policy(self, settings: Settings) -> TransportPolicy:
        return TransportPolicy(allow_plaintext=settings.plaintext_mail_allowed)

    login = provide(Login)
    authenticate = provide(Authenticate)
    still_signed_in = provide(StillSignedIn)

    @provide
    def prune_sessions(self, uow: UnitOfWork, clock: Clock, settings: Settings) -> PruneSessions:
        return PruneSessions(uow, clock, timedelta(seconds=settings.jwt_lifetime_seconds + 60))

    @provide
    def remember_revoked(
        self, uow: UnitOfWork, sessions: Sessions, clock: Clock, settings: Settings
    ) -> RememberRevokedSessions:
        return RememberRevokedSessions(uow, sessions, clock, timedelta(seconds=settings.jwt_lifetime_seconds + 60))

    refresh = provide(Refresh)
    logout = provide(Logout)
    change_password = provide(ChangePassword)
    list_users = provide(ListUsers)
    get_user = provide(GetUser)
    create_user = provide(CreateUser)
    update_user = provide(UpdateUser)
    delete_user = provide(DeleteUser)
    create_api_key = provide(CreateApiKey)
    list_api_keys = provide(ListApiKeys)
    delete_api_key = provide(DeleteApiKey)
    list_grants = provide(ListGrants)
    put_grant = provide(PutGrant)
    delete_grant = provide(DeleteGrant)
    register_user = provide(RegisterUser)

    @provide
    def create_account(
        self,
        uow: UnitOfWork,
        cipher: CredentialCipher,
        clock: Clock,
        verifier: LoginVerifier,
        auditor: Auditor,
        transport: TransportPolicy,
        providers: OAuthProviders,
    ) -> CreateMailAccount:
        return CreateMailAccount(uow, cipher, clock, verifier, auditor, transport, providers)

    get_account = provide(GetMailAccount)
    list_accounts = provide(ListMailAccounts)

    @provide
    def update_account(
        self,
        uow: UnitOfWork,
        cipher: CredentialCipher,
        clock: Clock,
        verifier: LoginVerifier,
        auditor: Auditor,
        transport: TransportPolicy,
        providers: OAuthProviders,
    ) -> UpdateMailAccount:
        return UpdateMailAccount(uow, cipher, clock, verifier, auditor, transport, providers)

    delete_account = provide(DeleteMailAccount)
    list_mailboxes = provide(ListMailboxes)
    search_messages = provide(SearchMessages)
    html_sanitizer = provide(Nh3HtmlSanitizer, provides=HtmlSanitizer, scope=Scope.APP)
    show_html = provide(ShowHtml)
    view_message = provide(ViewMessage)
    get_message = provide(GetMessage)
    get_raw_message = provide(GetRawMessage)
    get_attachment = provide(GetAttachment)
    get_thread = provide(GetThread)
    change_flags = provide(ChangeFlags)
    move_message = provide(MoveMessage)
    delete_message = provide(DeleteMessage)
    write_flags = provide(WriteFlags)
    apply_move = provide(ApplyMove)
    apply_delete = provide(ApplyDelete)

    check_stored_secrets = provide(CheckStoredSecrets)

    @provide
    def rotate_keys(self, uow: UnitOfWork, settings: Settings, auditor: Auditor) -> RotateEncryptionKeys:
        """Rotation reads the secrets stored before binding in order to bind them, whatever the deployment allows."""
        return RotateEncryptionKeys(uow, AesGcmCredentialCipher(settings.keyring(), accept_unbound=True), auditor)

    @provide
    def origin(self) -> RequestOrigin:
        """A job or command: the request id it runs under, no client address. The HTTP app overrides this."""
        return RequestOrigin(request_id=current_request_id.get())

    auditor = provide(Auditor)
    list_audit_events = provide(ListAuditEvents)

    @provide
    def catch_up_search_index(self, uow: UnitOfWork, clock: Clock) -> CatchUpSearchIndex:
        return CatchUpSearchIndex(uow, clock)  # batch and time budget: the use case's defaults

    @provide
    def collect_blobs(self, uow: UnitOfWork, blobs: BlobStore, clock: Clock, settings: Settings) -> CollectBlobs:
        return CollectBlobs(uow, blobs, clock, grace=timedelta(seconds=settings.blob_grace_seconds))


def app_providers() -> list[Provider]:
    return [
        ContextProvider(),
        PersistenceProvider(),
        SecurityProvider(),
        MailProvider(),
        JobsProvider(),
        SyncProvider(),
        OutboxProvider(),
        OAuthWiring(),
        LimitsProvider(),
        EventsProvider(),
        HealthProvider(),
        UseCaseProvider(),
    ]


class MemoryProvider(Provider):
    """Swaps the database, the mail servers and the slow password hash for in-memory fakes.

    Tests reach the fakes through the container: `MemoryStore`, `ScriptedMailServers`, `FakeImapServer`,
    `HealthProbes`.
    """

    scope = Scope.APP

    @provide
    def store(self) -> MemoryStore:
        return MemoryStore()

    @provide
    def mail_servers(self) -> ScriptedMailServers:
        return ScriptedMailServers()

    hasher = provide(PlainPasswordHasher, provides=PasswordHasher, override=True)

    @provide(scope=Scope.REQUEST, override=True)
    def unit_of_work(self, store: MemoryStore, doorbell: Doorbell) -> UnitOfWork:
        return MemoryUnitOfWork(store, doorbell)

    @provide(override=True)
    def imap_login_check(self, servers: ScriptedMailServers) -> ImapLoginCheck:
        return ScriptedImapLoginCheck(servers)

    @provide(override=True)
    def sender(self, servers: ScriptedMailServers) -> MailSender:
        return ScriptedMailSender(servers)

    @provide
    def imap_server(self) -> FakeImapServer:
        return FakeImapServer()

    @provide(override=True)
    def imap_sessions(self, server: FakeImapServer) -> ImapConnector:
        return FakeImapConnector(server)

    @provide(override=True)
    def blobs(self) -> BlobStore:
        return MemoryBlobStore()

    @provide
    def webhook_receivers(self) -> ScriptedWebhookTransport:
        return ScriptedWebhookTransport()

    @provide(override=True)
    def transport(self, receivers: ScriptedWebhookTransport) -> WebhookTransport:
        return receivers

    @provide(override=True)
    def probes(self) -> HealthProbes:
        return HealthProbes(database=SwitchableProbe("database"), broker=SwitchableProbe("broker"))
