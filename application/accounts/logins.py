"""How an account signs in to its servers: its password, or an OAuth2 access token kept fresh from its grant."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import replace
from datetime import datetime, timedelta

from domain.accounts import MailAccount, MailLogin
from domain.changes import Change, ChangeType
from domain.drafts import Envelope
from domain.errors import DeliveryFailed, LoginRefused, MailServerRejected, ReauthRequired
from domain.ids import new_id
from domain.oauth import GrantRefused, OAuthGrant, token_binding
from domain.ports.mail import ImapConnector, ImapSession, MailSender
from domain.ports.oauth import OAuthProviders
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import CredentialCipher

log = logging.getLogger("mailroom.oauth")

REAUTH_REQUIRED = "reauth_required"
RENEWAL_LEASE = timedelta(seconds=60)
"""How long one worker's claim to renew a token stands: longer than the provider call may take (its timeout)."""
RENEWAL_POLL_SECONDS = 0.25
RENEWAL_POLLS = 4 * 70
"""A worker that finds the renewal claimed looks again this often, for a little longer than a claim stands."""
RENEWED_LATELY = timedelta(minutes=5)
"""The `reason` of the `account.error` event an account's lost grant emits, and of its sync status."""


class MailLogins:
    """The login for each side of an account. A password is decrypted; an OAuth2 access token is used while it is
    fresh, renewed with the refresh token shortly before it expires (domain.oauth.REFRESH_MARGIN), and renewed once
    more when a server refused it (`renewed`).

    Renewals of one account are serialised across workers by a claim on its grant (`renewing_until`, taken under
    the row's lock in a short transaction): the claimant asks the provider, outside any transaction, and stores
    the answer (a rotated refresh token included, or the next renewal would present a spent one); the others
    wait for it and use the new token. When the provider refuses the refresh token for good
    (`invalid_grant`), the grant is marked `reauth_required` and `account.error` is emitted, once, in the same
    transaction; from then on every login raises ReauthRequired without asking anyone, until the user signs in again.
    """

    def __init__(
        self, uow: UnitOfWork, cipher: CredentialCipher, clock: Clock, providers: OAuthProviders | None = None
    ) -> None:
        self._uow = uow
        self._cipher = cipher
        self._clock = clock
        self._providers = providers

    async def imap(self, account: MailAccount) -> MailLogin:
        if account.imap_password is not None:
            return MailLogin(self._cipher.decrypt(account.imap_password))
        return await self._token(account, refused=None)

    async def smtp(self, account: MailAccount) -> MailLogin:
        if account.smtp_password is not None:
            return MailLogin(self._cipher.decrypt(account.smtp_password))
        return await self._token(account, refused=None)

    async def renewed(self, account: MailAccount, refused: MailLogin) -> MailLogin | None:
        """A new login after a server refused `refused`: a renewed access token (or the one another worker renewed
        meanwhile); None for a password, which only its user can change."""
        if not refused.bearer:
            return None
        return await self._token(account, refused=refused.secret)

    async def _token(self, account: MailAccount, refused: str | None) -> MailLogin:
        async with self._uow as uow:
            grant = await uow.oauth_grants.get(account.tenant_id, account.id)
        token = self._usable(grant, refused)
        return MailLogin(token, bearer=True) if token is not None else await self._renew(account, refused)

    def _usable(self, grant: OAuthGrant | None, refused: str | None) -> str | None:
        """The stored access token if it may be used as it is, else None (it must be renewed)."""
        if grant is None or grant.reauth_required:
            raise ReauthRequired()
        if not grant.fresh(self._clock.now()):
            return None
        token = self._cipher.decrypt(grant.access_token)
        return None if token == refused else token

    async def _renew(self, account: MailAccount, refused: str | None) -> MailLogin:
        """Claims the renewal (a short lease on the grant's row, taken under its lock), asks the provider outside
        any transaction, and stores the answer under the lock again. A worker that finds the renewal claimed waits
        for the new token; one whose claim ran out (its holder died) claims it anew."""
        for _ in range(RENEWAL_POLLS):
            claimed = await self._claim(account, refused)
            if isinstance(claimed, MailLogin):
                return claimed
            if claimed is not None:
                # shielded: a worker cancelled after the provider answered must still store the rotated token
                return await asyncio.shield(self._ask_provider(claimed))
            await self._clock.sleep(RENEWAL_POLL_SECONDS)
        raise MailServerRejected("oauth2", "another worker's renewal of the access token did not finish")

    async def _claim(self, account: MailAccount, refused: str | None) -> MailLogin | OAuthGrant | None:
        """The fresh token if there is one now; else the grant, claimed for this worker to renew; else None while
        another worker's claim runs."""
        now = self._clock.now()
        async with self._uow as uow:
            grant = await uow.oauth_grants.lock(account.tenant_id, account.id)
            token = self._usable(grant, refused)
            if token is not None:
                return MailLogin(token, bearer=True)  # renewed by another worker meanwhile
            assert grant is not None
            if grant.refresh_token is None:
                await self._lost(uow, grant, "the access token expired and the grant has no refresh token")
                await uow.commit()
                raise ReauthRequired()
            if refused is not None and grant.renewed_within(now, RENEWED_LATELY):
                # renewed minutes ago and still refused: the server refuses this mailbox, not the token (IMAP off,
                # a wrong username); asking the provider again at every reconnect would only rotate tokens
                raise LoginRefused("oauth2", "the server refused a token renewed moments ago")
            if grant.renewing_until is not None and grant.renewing_until > now:
                return None
            if self._providers is None or self._providers.get(grant.provider) is None:
                raise MailServerRejected("oauth2", f"the OAuth2 provider {grant.provider!r} is not configured")
            claimed = replace(grant, renewing_until=now + RENEWAL_LEASE)
            await uow.oauth_grants.put(claimed)
            await uow.commit()
        return claimed

    async def _ask_provider(self, grant: OAuthGrant) -> MailLogin:
        assert self._providers is not None
        assert grant.refresh_token is not None
        try:
            issued = await self._providers.refresh(grant.provider, self._cipher.decrypt(grant.refresh_token))
        except GrantRefused as refusal:
            async with self._uow as uow:
                current = await uow.oauth_grants.lock(grant.tenant_id, grant.account_id)
                if current is not None and self._same_refresh(current, grant):
                    await self._lost(uow, current, refusal.message)
                    await uow.commit()
            raise ReauthRequired() from None
        except BaseException:
            await self._release(grant)
            raise
        now = self._clock.now()
        async with self._uow as uow:
            current = await uow.oauth_grants.lock(grant.tenant_id, grant.account_id)
            if current is None or not self._same_refresh(current, grant):
                # the grant was replaced meanwhile (the user signed in again): what it holds now wins
                return MailLogin(issued.access_token, bearer=True)
            refresh = issued.refresh_token
            renewed = replace(
                current,
                access_token=self._cipher.encrypt(issued.access_token, token_binding(grant.account_id, "oauth_access")),
                refresh_token=current.refresh_token
                if refresh is None
                else self._cipher.encrypt(refresh, token_binding(grant.account_id, "oauth_refresh")),
                expires_at=issued.expires_at,
                updated_at=now,
                renewing_until=None,
                renewed_at=now,
            )
            await uow.oauth_grants.put(renewed)
            await uow.commit()
        log.info("renewed the OAuth2 access token of account %s", grant.account_id)
        return MailLogin(issued.access_token, bearer=True)

    def _same_refresh(self, current: OAuthGrant, claimed: OAuthGrant) -> bool:
        """Whether the grant still holds the refresh token that was presented (compared as plaintext: a key
        rotation meanwhile re-encrypts it), that is, it was not replaced by a new sign-in."""
        if current.refresh_token is None or claimed.refresh_token is None:
            return False
        return self._cipher.decrypt(current.refresh_token) == self._cipher.decrypt(claimed.refresh_token)

    async def _release(self, grant: OAuthGrant) -> None:
        """The provider could not be asked (unreachable, or this worker is stopping): the next one may at once."""
        with suppress(Exception):
            async with self._uow as uow:
                current = await uow.oauth_grants.lock(grant.tenant_id, grant.account_id)
                if current is not None and current.renewing_until == grant.renewing_until:
                    await uow.oauth_grants.put(replace(current, renewing_until=None))
                    await uow.commit()

    async def _lost(self, uow: UnitOfWork, grant: OAuthGrant, why: str) -> None:
        now = self._clock.now()
        log.warning("account %s: its OAuth2 grant is gone (%s); its user must sign in again", grant.account_id, why)
        await uow.oauth_grants.put(replace(grant, reauth_required=True, updated_at=now))
        uow.changes.record(account_needs_consent(grant, why, now))


def account_needs_consent(grant: OAuthGrant, why: str, now: datetime) -> Change:
    data = {"reason": REAUTH_REQUIRED, "detail": why[:300], "provider": grant.provider, "failing_since": now}
    return Change(new_id(), ChangeType.ACCOUNT_ERROR, grant.tenant_id, grant.account_id, now, data)


@asynccontextmanager
async def imap_session(imap: ImapConnector, logins: MailLogins, account: MailAccount) -> AsyncIterator[ImapSession]:
    """A session on the account's IMAP server; an access token the server refuses is renewed and tried once more
    (a token can be revoked or count as expired on the server before its stated expiry)."""
    login = await logins.imap(account)
    async with AsyncExitStack() as stack:
        try:
            session = await stack.enter_async_context(imap(account.imap, login))
        except LoginRefused:
            again = await logins.renewed(account, login)
            if again is None:
                raise
            session = await stack.enter_async_context(imap(account.imap, again))
        yield session


async def send_as(
    sender: MailSender, logins: MailLogins, account: MailAccount, envelope: Envelope, message: bytes
) -> str:
    """MailSender.send with the account's SMTP login, renewed and tried once more when the server refused an
    access token. A login that cannot be had raises MailServerRejected (ReauthRequired for a lost grant; the
    provider unreachable or refusing the deployment's client otherwise): no fault of the message, so the caller
    holds the send rather than spending its tries."""
    login = await logins.smtp(account)
    try:
        return await sender.send(account.smtp, login, envelope, message)
    except DeliveryFailed as failure:
        if not failure.login_refused:
            raise
        try:
            again = await logins.renewed(account, login)
        except LoginRefused:
            raise failure from None  # renewed moments ago and still refused: the server refuses the mailbox
        if again is None:
            raise
        return await sender.send(account.smtp, again, envelope, message)
