"""The change feed (GET /api/changes) and the live stream (GET /api/events/stream): one log, read two ways, with
one kind of cursor, so a client can move between them."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from uuid import UUID

from application.access.reach import reach_of
from application.auth.authenticate import StillSignedIn
from application.events.settings import EventSettings
from domain.auth import Principal
from domain.changes import ChangeFilter, CursorExpired, LoggedChange, decode_cursor, encode_cursor
from domain.errors import NotFound
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import CHANGES_TOPIC, Doorbell

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ChangePage:
    items: list[LoggedChange]
    next_cursor: str
    has_more: bool


async def _start(uow: UnitOfWork, tenant_id: UUID, since: str | None, field_name: str) -> tuple[int, int]:
    """Where a reader starts (after `since`, or at the end of the log, from now on, without one), and the log's
    end as read now. A cursor ahead of the log is not one this tenant was given; one behind what was pruned has
    lost events."""
    last, pruned = await uow.changes.position(tenant_id)
    if since is None:
        return last, last
    sequence = decode_cursor(since, field_name)
    if sequence > last:
        raise CursorExpired(f"{field_name}: this cursor is not from this tenant's change log")
    if sequence < pruned:
        raise CursorExpired(
            f"{field_name}: events after this cursor were pruned (older than the retention); re-read your state and"
            " follow the feed from the cursor GET /api/changes without `since` gives"
        )
    return sequence, last


async def _within_reach(uow: UnitOfWork, principal: Principal, wanted: ChangeFilter) -> ChangeFilter:
    """A member reads the events of the accounts they reach (domain.access), and an account they name must be
    one of them; an admin reads the tenant's. Events that belong to no account (webhook.disabled) are the
    admins'."""
    reach = await reach_of(uow, principal)
    if reach.account_ids is None:
        return wanted
    if wanted.account_ids is None:
        return replace(wanted, account_ids=reach.account_ids)
    if not wanted.account_ids <= reach.account_ids:
        raise NotFound("mail account not found")
    return wanted


class ListChanges:
    """Oldest first. Without `since`, no items and the current cursor: a client starts from now."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, since: str | None, limit: int, wanted: ChangeFilter) -> ChangePage:
        limit = max(1, min(limit, MAX_PAGE))
        async with self._uow as uow:
            start, end = await _start(uow, principal.tenant_id, since, "since")
            wanted = await _within_reach(uow, principal, wanted)
            if since is None:
                return ChangePage([], encode_cursor(end), False)
            items = await uow.changes.after(principal.tenant_id, start, limit + 1, wanted)
        if len(items) > limit:
            return ChangePage(items[:limit], items[limit - 1].cursor, True)
        # Every event up to `end` was committed before the events were read (sequences become visible in order),
        # so a filtered read moves past the events it skipped too.
        cursor = max([end, *(i.sequence for i in items)])
        return ChangePage(items, encode_cursor(cursor), False)


class FollowChanges:
    """The stream: every event after the cursor, then each new one as it is committed. Woken by the doorbell (any
    replica's commit rings it); the log stays the truth, so it also looks of its own accord at every heartbeat.
    Yields None for a heartbeat.

    A stream outlives the request that opened it, so what the caller may read is asked again at every look: the
    accounts they reach now (a grant taken back stops their events), and whether their session or key still
    holds; the stream ends when it does not, or when the access token expires (the client reconnects with a
    fresh one and `Last-Event-ID`)."""

    def __init__(self, uow: UnitOfWork, doorbell: Doorbell, settings: EventSettings, signed_in: StillSignedIn) -> None:
        self._uow = uow
        self._doorbell = doorbell
        self._settings = settings
        self._signed_in = signed_in

    async def start(self, principal: Principal, last_event_id: str | None, wanted: ChangeFilter) -> int:
        """Checked before the stream opens, so an expired cursor is a 410 answer, not a broken stream."""
        async with self._uow as uow:
            start, _ = await _start(uow, principal.tenant_id, last_event_id, "Last-Event-ID")
            await _within_reach(uow, principal, wanted)
        return start

    async def follow(
        self, principal: Principal, start: int, wanted: ChangeFilter
    ) -> AsyncIterator[LoggedChange | None]:
        tenant_key = principal.tenant_id.hex
        cursor = start
        async with self._doorbell.listen(CHANGES_TOPIC) as listener:
            while True:
                if not await self._signed_in(principal):
                    return
                async with self._uow as uow:
                    end, _ = await uow.changes.position(principal.tenant_id)
                    try:
                        reachable = await _within_reach(uow, principal, wanted)
                    except NotFound:  # the account it followed is out of reach now
                        return
                    items = await uow.changes.after(principal.tenant_id, cursor, MAX_PAGE, reachable)
                for item in items:
                    yield item
                    cursor = item.sequence
                if len(items) == MAX_PAGE:
                    continue
                # Past the events the filter skipped too (committed before the read: see ListChanges).
                cursor = max(cursor, end)
                while True:
                    rung = await listener.wait(self._settings.heartbeat_seconds)
                    if not rung:
                        yield None
                        break
                    if tenant_key in rung or "*" in rung:
                        break
