from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from domain.access import ApiKey, Grant, Reach, RefreshToken, Session
from domain.accounts import GrantStatus, MailAccount
from domain.audit import AuditEvent
from domain.changes import Change, ChangeFilter, LoggedChange
from domain.drafts import Draft, DraftStatus
from domain.mailboxes import Mailbox
from domain.messages import Flags, Message, MessageSummary
from domain.oauth import OAuthGrant
from domain.pagination import Page, PageRequest
from domain.ports.storage import BlobReferences
from domain.remote import FlagUpdate
from domain.search import KeysetPage, MessageQuery, PageAfter
from domain.sync import AccountSync
from domain.tenants import Tenant, User
from domain.webhooks import Delivery, DeliveryAttempt, Webhook


class TenantRepository(Protocol):
    async def get(self, tenant_id: UUID) -> Tenant | None: ...
    async def get_by_slug(self, slug: str) -> Tenant | None: ...
    async def add(self, tenant: Tenant) -> None: ...

    async def lock(self, tenant_id: UUID) -> None:
        """Holds the tenant's row until the transaction ends: transactions that change the tenant's users (the
        rule that an admin remains) run one after another."""
        ...


class UserRepository(Protocol):
    async def get(self, user_id: UUID) -> User | None: ...
    async def get_by_email(self, tenant_id: UUID, email: str) -> User | None: ...
    async def add(self, user: User) -> None: ...
    async def list(self, tenant_id: UUID, page: PageRequest) -> Page[User]:
        """Oldest first."""
        ...

    async def update(self, user: User) -> None: ...

    async def delete(self, tenant_id: UUID, user_id: UUID) -> bool:
        """Deletes the user with their grants, sessions, API keys and webhooks; their accounts must have been
        handed over first."""
        ...

    async def count_admins(self, tenant_id: UUID) -> int:
        """The tenant's admins that are not disabled."""
        ...


class AccountGrantRepository(Protocol):
    """Accounts shared with other users of their tenant, and how far each user reaches into which account."""

    async def for_account(self, tenant_id: UUID, account_id: UUID) -> list[Grant]:
        """Oldest first."""
        ...

    async def put(self, grant: Grant) -> bool:
        """Adds the grant, or changes the access of the user's grant on that account; True when it is new."""
        ...

    async def delete(self, tenant_id: UUID, account_id: UUID, user_id: UUID) -> bool: ...

    async def reach(self, tenant_id: UUID, user_id: UUID, account_id: UUID | None = None) -> dict[UUID, Reach]:
        """The accounts the user owns (MANAGE) or has a grant on (READ or FULL); only `account_id`, given it. An
        account both owned and granted counts as owned."""
        ...


class SessionRepository(Protocol):
    """Sign-ins and their refresh tokens. A refresh token is looked up before its tenant is known (system scope)."""

    async def add(self, session: Session, token: RefreshToken) -> None: ...
    async def add_token(self, token: RefreshToken) -> None: ...

    async def find(self, digest: str) -> tuple[RefreshToken, Session] | None: ...

    async def use(self, digest: str, now: datetime) -> bool:
        """Marks the refresh token used if it was not (compared in the statement): False when it was, by this
        request's twin or by a thief."""
        ...

    async def revoke(self, tenant_id: UUID, session_id: UUID, now: datetime) -> None: ...

    async def revoke_user(self, tenant_id: UUID, user_id: UUID, now: datetime) -> list[UUID]:
        """Revokes every session of the user not revoked yet; returns their ids."""
        ...

    async def revoked_since(self, since: datetime) -> list[UUID]:
        """Sessions of any tenant revoked at or after `since`: what the revocation list must hold after a restart."""
        ...

    async def prune(self, expired_before: datetime, revoked_before: datetime) -> int:
        """Deletes refresh tokens that expired before `expired_before`, and the sessions left with none, but for
        those revoked at or after `revoked_before` (their access tokens may still be presented, and the revocation
        list is refilled from them); how many tokens. A deleted user's sessions stay, revoked, until then."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...
    async def get(self, tenant_id: UUID, key_id: UUID) -> ApiKey | None: ...

    async def list(self, tenant_id: UUID, user_id: UUID | None) -> list[ApiKey]:
        """The user's keys (every key of the tenant for None), oldest first."""
        ...

    async def count(self, tenant_id: UUID, user_id: UUID) -> int: ...
    async def delete(self, tenant_id: UUID, key_id: UUID) -> bool: ...

    async def find(self, digest: str) -> tuple[ApiKey, User] | None:
        """The key with this digest and its user, in any tenant (system scope): how a request's key is checked."""
        ...

    async def touch(self, key_id: UUID, now: datetime) -> None:
        """Sets `last_used_at`."""
        ...


class MailAccountRepository(Protocol):
    """Every read and write names the tenant: a row of another tenant is never found."""

    async def get(self, tenant_id: UUID, account_id: UUID) -> MailAccount | None: ...
    async def list(self, tenant_id: UUID, page: PageRequest, only: frozenset[UUID] | None = None) -> Page[MailAccount]:
        """Oldest first; only the accounts in `only`, given it."""
        ...

    async def hand_over(self, tenant_id: UUID, from_user: UUID, to_user: UUID) -> int:
        """Every account `from_user` owns becomes `to_user`'s; returns how many."""
        ...

    async def email_taken(self, tenant_id: UUID, email: str, *, excluding: UUID | None = None) -> bool: ...
    async def with_email(self, tenant_id: UUID, email: str) -> MailAccount | None:
        """The tenant's account for that address (compared without case), if any."""
        ...

    async def add(self, account: MailAccount) -> None: ...
    async def update(self, account: MailAccount) -> None: ...
    async def delete(self, tenant_id: UUID, account_id: UUID) -> bool: ...
    async def all_ids(self) -> Sequence[tuple[UUID, UUID]]:
        """(tenant, account) of every account of every tenant, for the background services."""
        ...

    async def samples_per_key_id(self, per_key: int) -> Sequence[MailAccount]:
        """For each key id that encrypts a stored password (IMAP or SMTP), up to `per_key` accounts of any tenant
        using it, the same ones each time (by id)."""
        ...


class OAuthGrantRepository(Protocol):
    """Each account's OAuth2 grant (domain.oauth), apart from the account's row: a change of the account's name or
    folders must never write back tokens read before a refresh replaced them."""

    async def get(self, tenant_id: UUID, account_id: UUID) -> OAuthGrant | None: ...

    async def lock(self, tenant_id: UUID, account_id: UUID) -> OAuthGrant | None:
        """The grant, locked until the transaction ends (SELECT ... FOR UPDATE; SQLite's write lock): the one way
        to renew a token, so that of two workers needing it at once one asks the provider and the other waits
        and finds the new token. Call it first in its transaction, as TenantRepository.lock."""
        ...

    async def statuses(self, tenant_id: UUID, account_ids: Collection[UUID]) -> dict[UUID, GrantStatus]:
        """What users see of the grants of these accounts (those that have one), in one read."""
        ...

    async def put(self, grant: OAuthGrant) -> None:
        """Adds or replaces the account's grant."""
        ...

    async def delete(self, tenant_id: UUID, account_id: UUID) -> None: ...


class MailboxRepository(Protocol):
    async def for_account(self, tenant_id: UUID, account_id: UUID) -> list[Mailbox]: ...
    async def get(self, tenant_id: UUID, mailbox_id: UUID) -> Mailbox | None: ...
    async def add(self, mailbox: Mailbox) -> None: ...
    async def update(self, mailbox: Mailbox) -> None: ...
    async def delete(self, tenant_id: UUID, mailbox_id: UUID) -> None:
        """Removes the folder and, with it, its messages."""
        ...


@dataclass(frozen=True, slots=True)
class FlagChange:
    message: MessageSummary
    before: Flags


class MessageStore(Protocol):
    """The local copy of the server's folders as the sync and the write-back jobs change it: the messages of
    one folder by IMAP UID, and one message by id after a change the API asked for."""

    async def add_many(self, messages: Sequence[Message]) -> None:
        """Conflict if a message with one of their (folder, UID) is stored already."""
        ...

    async def uids(self, mailbox_id: UUID) -> list[int]:
        """Every stored UID of a folder, in order."""
        ...

    async def stored_uids(self, mailbox_id: UUID, first_uid: int, last_uid: int) -> set[int]:
        """UIDs in [first_uid, last_uid] already stored: a message moved in by Mailroom is stored at once."""
        ...

    async def apply_flags(self, mailbox_id: UUID, updates: Sequence[FlagUpdate]) -> list[FlagChange]:
        """Sets the flags the server reported; returns the messages whose flags this changed, as they are now,
        with their flags before. Updates that change nothing are not written."""
        ...

    async def remove_uids(self, mailbox_id: UUID, uids: Sequence[int]) -> list[MessageSummary]:
        """Removes the stored messages with these UIDs; returns them as they were."""
        ...

    async def remove_all(self, mailbox_id: UUID) -> None: ...
    async def counts(self, mailbox_id: UUID) -> tuple[int, int]:
        """(messages, unread) of a folder."""
        ...

    async def thread_of(self, account_id: UUID, message_ids: Sequence[str]) -> UUID | None:
        """The thread of any stored message of the account with one of these Message-IDs."""
        ...

    async def set_flags(self, tenant_id: UUID, message_id: UUID, flags: Flags) -> None: ...

    async def relocate(self, tenant_id: UUID, message_id: UUID, mailbox_id: UUID, uid: int) -> None:
        """The message now lives in another folder under another UID (after an IMAP MOVE)."""
        ...

    async def remove(self, tenant_id: UUID, message_id: UUID) -> None: ...


class MessageQueries(Protocol):
    """What the API reads: one message, a page of a folder or a search, a thread."""

    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None: ...

    async def search(self, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
        """Messages matching every condition of `query`: by relevance (best first) when it has full text,
        else newest first (by INTERNALDATE); ties by id."""
        ...

    async def thread(self, tenant_id: UUID, thread_id: UUID) -> list[MessageSummary]:
        """The messages of a thread, oldest first."""
        ...

    async def with_message_id(self, tenant_id: UUID, account_id: UUID, message_id: str) -> list[Message]:
        """The account's stored messages with this Message-ID header (a copy per folder it is in)."""
        ...


class SearchIndex(Protocol):
    """The search indexing a store defers when messages are added (the SQL stores' word pairs)."""

    async def catch_up(self, batch: int) -> int:
        """Does the deferred indexing for up to `batch` messages of any tenant; returns how many. Search finds
        messages whether or not this has run; it runs faster after."""
        ...


class AccountSyncRepository(Protocol):
    async def get(self, tenant_id: UUID, account_id: UUID) -> AccountSync | None: ...

    async def add(self, sync: AccountSync) -> None:
        """Creates the account's status. Conflict if it exists: another worker or request created it since
        `get` found none, and its copy must not be overwritten by this fresh one."""
        ...

    async def save(self, sync: AccountSync) -> None: ...

    async def ask_to_run_again(self, account_id: UUID) -> bool:
        """If the account's sync is running, it is to run once more when it ends (it may already have passed
        the folder that changed): True. False when it is not running. Kept apart from `save`, which the running
        worker calls with its own copy of the status."""
        ...

    async def take_run_again(self, account_id: UUID) -> bool:
        """Whether `ask_to_run_again` was called while the sync ran, clearing the request."""
        ...

    async def due(self, now: datetime) -> list[tuple[UUID, UUID]]:
        """(tenant, account) of every account not queued or running that never synced, or whose last sync
        finished at least its `sync_interval_seconds` before `now`."""
        ...

    async def take_lease(self, account_id: UUID, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Atomically takes the account's lease if it is free or expired; False when another owner holds it."""
        ...

    async def count_failing_since(self, before: datetime) -> int:
        """How many accounts of any tenant have failed every sync since `before` or earlier (their error episode,
        AccountSync.failing_since, began then): for monitoring, without naming them."""
        ...


class DraftRepository(Protocol):
    """Drafts and the outbox. Every read and write names the tenant, except the workers' calls by draft id."""

    async def get(self, tenant_id: UUID, draft_id: UUID) -> Draft | None: ...
    async def add(self, draft: Draft) -> None: ...

    async def update(self, draft: Draft, *, expected: DraftStatus, owner: str | None = None) -> bool:
        """Writes `draft` only if the stored one still has status `expected` (and, given `owner`, that lease
        owner): False when another request or worker changed it first."""
        ...

    async def delete(self, tenant_id: UUID, draft_id: UUID) -> bool:
        """Deletes unless it is being sent (compared in the same statement); False when nothing was deleted."""
        ...

    async def claim(self, draft_id: UUID, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Atomically moves a due queued draft, or a sending one whose lease expired, to sending under
        `owner`'s lease and counts the attempt (Draft.start_sending); False when it is not claimable."""
        ...

    async def needing_jobs(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """(tenant, draft) of drafts that Draft.needs_job, oldest due first."""
        ...

    async def mark_enqueued(self, draft_id: UUID, now: datetime) -> None: ...


class AuditRepository(Protocol):
    async def add(self, event: AuditEvent) -> None: ...

    async def list(self, tenant_id: UUID, page: PageRequest) -> Page[AuditEvent]:
        """The tenant's events, newest first."""
        ...


class ChangeLog(Protocol):
    """The tenants' change logs (domain.changes). `record` keeps an event for the transaction's commit, which
    numbers and writes it with the change: a rolled-back transaction leaves no event."""

    def record(self, change: Change) -> None: ...

    async def after(
        self, tenant_id: UUID, sequence: int, limit: int, wanted: ChangeFilter | None = None, with_data: bool = True
    ) -> list[LoggedChange]:
        """The tenant's events after `sequence` that `wanted` takes, oldest first, at most `limit`; without
        `with_data`, their `data` is left empty (the webhook fan-out needs only what the filters read)."""
        ...

    async def at(self, tenant_id: UUID, sequences: Sequence[int]) -> list[LoggedChange]:
        """The tenant's events with these sequences that are still kept."""
        ...

    async def position(self, tenant_id: UUID) -> tuple[int, int]:
        """(the sequence of the tenant's last event, the sequence up to which events were pruned); (0, 0) for a
        tenant with no events yet."""
        ...

    async def prune(self, older_than: datetime, batch: int) -> int:
        """Deletes up to `batch` events of any tenant created before `older_than`, and moves each tenant's pruned
        mark past them; returns how many."""
        ...


class WebhookRepository(Protocol):
    """Endpoints by tenant; deliveries and attempts of them. The dispatcher's calls (claims, tenants with work)
    cross tenants and run in the system scope."""

    async def add(self, webhook: Webhook) -> None: ...
    async def get(self, tenant_id: UUID, webhook_id: UUID) -> Webhook | None: ...
    async def for_tenant(self, tenant_id: UUID) -> list[Webhook]: ...
    async def update(self, webhook: Webhook) -> None: ...
    async def delete(self, tenant_id: UUID, webhook_id: UUID) -> bool:
        """Deletes the endpoint with its deliveries and attempts."""
        ...

    async def enabled(self, tenant_id: UUID) -> list[Webhook]: ...

    async def advance(self, webhook_id: UUID, seen: int, to: int) -> bool:
        """Moves the endpoint's cursor from `seen` to `to` if it is still at `seen` (compared in the statement):
        False when another dispatcher moved it first, and the caller's deliveries must not be kept."""
        ...

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None: ...

    async def claim_due(self, tenant_id: UUID, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        """Up to `limit` of the tenant's pending deliveries due at `now`, oldest first, each claimed by moving
        its due time to `lease_until` in a statement that re-checks it: two dispatchers never claim the same one,
        and a delivery whose dispatcher died is due again when the lease ends."""
        ...

    async def finish_attempts(
        self,
        deliveries: Sequence[Delivery],
        attempts: Sequence[DeliveryAttempt],
        claimed_until: datetime | None = None,
    ) -> set[UUID]:
        """Saves the deliveries' new status, attempt counts and due times, and the attempts made; returns the ids
        of the deliveries saved. Given `claimed_until`, the end of the claim they were tried under, only those
        still pending under that very claim are saved (with their attempts): a dispatcher whose claim ran out and
        was taken over, or whose endpoint was deleted or disabled meanwhile, changes nothing."""
        ...

    async def fail_pending(self, webhook_id: UUID) -> None:
        """Every pending delivery of a disabled endpoint ends as failed."""
        ...

    async def attempts(
        self, tenant_id: UUID, webhook_id: UUID, before: UUID | None, limit: int
    ) -> list[DeliveryAttempt]:
        """The endpoint's attempts, newest first, older than the attempt `before` when given."""
        ...

    async def next_due(self, tenant_id: UUID) -> datetime | None:
        """When the tenant's earliest pending delivery is due."""
        ...

    async def tenants_with_work(self, now: datetime) -> list[UUID]:
        """Tenants with a delivery due, or an enabled endpoint whose cursor is behind the tenant's log."""
        ...

    async def count_due(self, now: datetime) -> int:
        """How many pending deliveries of any tenant are due at `now` (the dispatchers' backlog; a claimed one is
        not due until its lease ends)."""
        ...

    async def prune(self, older_than: datetime) -> int:
        """Deletes the finished deliveries (delivered or failed) of any tenant made before `older_than`, with their
        attempts, and any attempt older than that; returns how many deliveries."""
        ...


class WatchLeaseRepository(Protocol):
    """Which process watches which account's inbox: a lease per account, renewed while the watch lives, so every
    account is watched by one process and a dead process's accounts are taken over when its leases run out. The
    calls cross tenants (system scope)."""

    async def renew(self, owner: str, now: datetime, until: datetime) -> list[tuple[UUID, UUID]]:
        """Extends `owner`'s leases that have not run out to `until`; (tenant, account) of each one it still holds
        (an account deleted meanwhile is no longer among them)."""
        ...

    async def claim(self, owner: str, now: datetime, until: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """Takes, until `until`, up to `limit` accounts no live lease holds; (tenant, account) of each taken. Two
        processes claiming at once never take the same account."""
        ...

    async def release(self, owner: str, account_ids: Sequence[UUID]) -> None:
        """Gives these leases of `owner` back at once (it stops watching them: it is shutting down)."""
        ...


class UnitOfWork(Protocol):
    """One transaction: `async with uow:` opens it, `commit()` keeps it, leaving without commit rolls back."""

    tenants: TenantRepository
    users: UserRepository
    grants: AccountGrantRepository
    sessions: SessionRepository
    api_keys: ApiKeyRepository
    accounts: MailAccountRepository
    oauth_grants: OAuthGrantRepository
    mailboxes: MailboxRepository
    message_store: MessageStore
    messages: MessageQueries
    search_index: SearchIndex
    syncs: AccountSyncRepository
    drafts: DraftRepository
    audit: AuditRepository
    blob_references: BlobReferences
    changes: ChangeLog
    webhooks: WebhookRepository
    watches: WatchLeaseRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class TenantScope(Protocol):
    """Holds the units of work opened inside `with scope(tenant_id):` to that tenant's rows, whatever their
    queries ask (Postgres row-level security). A store that cannot (the in-memory one, SQLite) may do nothing.
    A unit of work reads the scope as it opens, so a use case may be built before the scope is entered."""

    def __call__(self, tenant_id: UUID) -> AbstractContextManager[None]: ...

    def system(self) -> AbstractContextManager[None]:
        """Lets the units of work opened inside see every tenant's rows: only for the few paths that must cross
        tenants (login before the tenant is known, the scheduler's sweeps, the inbox watch list, operators'
        commands). Outside both, row-level security shows a unit of work no rows."""
        ...


class ReadHandOn(Protocol):
    """Inside `with hand_on():`, a unit of work that only read, and did not commit, may leave its transaction open
    for the next `async with` of the same UnitOfWork (the same request) to go on in, instead of ending it and
    beginning another. For a read that every request makes first, the token check; a store where that saves
    nothing may ignore it."""

    def __call__(self) -> AbstractContextManager[None]: ...
