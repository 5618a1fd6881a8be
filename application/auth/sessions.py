"""Sessions: a sign-in's short-lived access tokens and the rotating refresh token that renews them.

An access token is checked without the database (TokenIssuer, RevokedSessions); a refresh token is checked in the
database, used up by each refresh, and presenting a used one again ends the whole session: one of its two holders
is a thief, and neither can be told apart (RFC 9700 section 4.14.2).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from application.audit import Auditor
from domain.access import RefreshToken, Session
from domain.audit import AuditAction
from domain.auth import Principal, SignedIn
from domain.errors import AuthenticationFailed, PermissionDenied
from domain.ids import new_id
from domain.ports.persistence import TenantScope, UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import RevokedSessions, TokenIssuer
from domain.tenants import User


@dataclass(frozen=True, slots=True)
class SessionSettings:
    refresh_lifetime: timedelta = timedelta(days=30)
    """How long a refresh token may wait unused; each refresh issues a new one for as long again."""


class Sessions:
    """Starts and ends sessions; shared by login, refresh, logout, password and user changes."""

    def __init__(
        self,
        tokens: TokenIssuer,
        revoked: RevokedSessions,
        clock: Clock,
        settings: SessionSettings = SessionSettings(),
    ) -> None:
        self._tokens = tokens
        self._revoked = revoked
        self._clock = clock
        self._settings = settings

    async def start(self, uow: UnitOfWork, user: User) -> SignedIn:
        """Adds the session to `uow`; the caller commits."""
        now, session_id = self._clock.now(), new_id()
        secret, token = self._refresh_token(user, session_id)
        await uow.sessions.add(Session(session_id, user.tenant_id, user.id, now), token)
        return SignedIn(self._tokens.issue(user.id, user.tenant_id, user.role, session_id), secret, session_id)

    def _refresh_token(self, user: User, session_id: UUID) -> tuple[str, RefreshToken]:
        now, secret = self._clock.now(), RefreshToken.new_secret()
        token = RefreshToken(
            RefreshToken.digest_of(secret),
            session_id,
            user.tenant_id,
            user.id,
            issued_at=now,
            expires_at=now + self._settings.refresh_lifetime,
        )
        return secret, token

    async def renew(self, uow: UnitOfWork, user: User, session_id: UUID) -> SignedIn:
        secret, token = self._refresh_token(user, session_id)
        await uow.sessions.add_token(token)
        return SignedIn(self._tokens.issue(user.id, user.tenant_id, user.role, session_id), secret, session_id)

    async def end_user(self, uow: UnitOfWork, user: User) -> None:
        """Revokes every session of the user in `uow`, and their access tokens at once (see `forget`)."""
        await self.forget(await uow.sessions.revoke_user(user.tenant_id, user.id, self._clock.now()))

    async def forget(self, session_ids: Sequence[UUID]) -> None:
        """The access tokens of these sessions are refused from the next request on. Called before the commit
        that revokes them in the database: if the revocation list cannot be written (Redis down) the change is
        not committed either, and asking again does it all; a revocation whose commit then fails only ends a
        session early."""
        await self._revoked.revoke(session_ids)


class Refresh:
    """Exchanges a refresh token for a new access token and the next refresh token."""

    def __init__(self, uow: UnitOfWork, sessions: Sessions, scope: TenantScope, clock: Clock, auditor: Auditor) -> None:
        self._uow = uow
        self._sessions = sessions
        self._scope = scope
        self._clock = clock
        self._auditor = auditor

    async def __call__(self, refresh_token: str) -> SignedIn:
        digest, now = RefreshToken.digest_of(refresh_token), self._clock.now()
        with self._scope.system():  # the token names its tenant only once found
            async with self._uow as uow:
                found = await uow.sessions.find(digest)
        if found is None:
            raise AuthenticationFailed("invalid or expired refresh token")
        token, session = found
        with self._scope(token.tenant_id):
            async with self._uow as uow:
                user = await uow.users.get(token.user_id)
                if session.revoked_at is not None or token.expires_at <= now or user is None or user.disabled:
                    raise AuthenticationFailed("invalid or expired refresh token")
                if not await uow.sessions.use(digest, now):
                    await self._end_reused(uow, session)
                    raise AuthenticationFailed("invalid or expired refresh token")
                signed_in = await self._sessions.renew(uow, user, session.id)
                await uow.commit()
        return signed_in

    async def _end_reused(self, uow: UnitOfWork, session: Session) -> None:
        """A used refresh token came back: the session ends for both holders."""
        await uow.sessions.revoke(session.tenant_id, session.id, self._clock.now())
        await self._auditor.record(uow, AuditAction.REFRESH_REUSED, session.tenant_id, session.user_id, session.id)
        await self._sessions.forget([session.id])
        await uow.commit()


class Logout:
    """Ends the caller's session, or every session of the caller with `everywhere`."""

    def __init__(self, uow: UnitOfWork, sessions: Sessions, clock: Clock, auditor: Auditor) -> None:
        self._uow = uow
        self._sessions = sessions
        self._clock = clock
        self._auditor = auditor

    async def __call__(self, principal: Principal, *, everywhere: bool = False) -> None:
        if principal.session_id is None:
            raise PermissionDenied("an API key has no session to log out of; delete the key instead")
        async with self._uow as uow:
            if everywhere:
                ended = await uow.sessions.revoke_user(principal.tenant_id, principal.user_id, self._clock.now())
            else:
                await uow.sessions.revoke(principal.tenant_id, principal.session_id, self._clock.now())
                ended = [principal.session_id]
            await self._auditor.record(
                uow, AuditAction.LOGOUT, principal.tenant_id, principal.user_id, "everywhere" if everywhere else None
            )
            await self._sessions.forget(ended)
            await uow.commit()


class RememberRevokedSessions:
    """Fills the revocation list from the database: the sessions ended within an access token's lifetime, whose
    tokens may still be presented. Run when the API starts (the list in a process's memory starts empty; Redis's
    may have been emptied by a restart of its own)."""

    def __init__(self, uow: UnitOfWork, sessions: Sessions, clock: Clock, tokens_live: timedelta) -> None:
        self._uow = uow
        self._sessions = sessions
        self._clock = clock
        self._tokens_live = tokens_live

    async def __call__(self) -> int:
        async with self._uow as uow:
            ended = await uow.sessions.revoked_since(self._clock.now() - self._tokens_live)
        await self._sessions.forget(ended)
        return len(ended)


class PruneSessions:
    """Refresh tokens past their expiry, and sessions left with none, are deleted (system scope): each refresh
    adds a token, and only the unexpired ones can still be presented, or recognised as reused. A session revoked
    within an access token's lifetime stays: the revocation list is refilled from it after a restart."""

    def __init__(self, uow: UnitOfWork, clock: Clock, tokens_live: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._tokens_live = tokens_live

    async def __call__(self) -> int:
        now = self._clock.now()
        async with self._uow as uow:
            pruned = await uow.sessions.prune(now, now - self._tokens_live)
            await uow.commit()
        return pruned
