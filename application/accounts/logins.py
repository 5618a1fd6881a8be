"""How an account signs in to its servers: its password, or an OAuth2 access token kept fresh from its grant."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import datetime

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
"""The `reason` of the `account.error` event an account's lost grant emits, and of its sync status."""


class MailLogins:
    """The login for each side of an account. A password is decrypted; an OAuth2 access token is used while it is
    fresh, renewed with the refresh token shortly before it expires (domain.oauth.REFRESH_MARGIN), and renewed once
    more when a server refused it (`renewed`).

    Renewals of one account are serialised across workers by a lock on its grant's row: whoever holds it asks the
    provider and stores the answer (a rotated refresh token included, or the next renewal would present a spent
    one); whoever waited finds the new token and uses it. When the provider refuses the refresh token for good
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
        async with self._uow as uow:
            grant = await uow.oauth_grants.lock(account.tenant_id, account.id)
            token = self._usable(grant, refused)
            if token is not None:
                return MailLogin(token, bearer=True)  # renewed by another worker while this one waited
            assert grant is not None
            if grant.refresh_token is None:
                await self._lost(uow, grant, "the access token expired and the grant has no refresh token")
                await uow.commit()
                raise ReauthRequired()
            provider = self._providers.get(grant.provider) if self._providers is not None else None
            if self._providers is None or provider is None:
                raise MailServerRejected("oauth2", f"the OAuth2 provider {grant.provider!r} is not configured")
            try:
                issued = await self._providers.refresh(grant.provider, self._cipher.decrypt(grant.refresh_token))
            except GrantRefused as refusal:
                await self._lost(uow, grant, refusal.message)
                await uow.commit()
                raise ReauthRequired() from None
            now = self._clock.now()
            renewed = replace(
                grant,
                access_token=self._cipher.encrypt(issued.access_token, token_binding(grant.account_id, "oauth_access")),
                refresh_token=grant.refresh_token
                if issued.refresh_token is None
                else self._cipher.encrypt(issued.refresh_token, token_binding(grant.account_id, "oauth_refresh")),
                expires_at=issued.expires_at,
                updated_at=now,
            )
            await uow.oauth_grants.put(renewed)
            await uow.commit()
        log.info("renewed the OAuth2 access token of account %s", account.id)
        return MailLogin(issued.access_token, bearer=True)

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
    access token. A login that cannot be had is a temporary failure, except a lost grant (ReauthRequired), which
    the caller holds the send for."""
    try:
        login = await logins.smtp(account)
    except ReauthRequired:
        raise
    except MailServerRejected as error:
        raise DeliveryFailed(error.message, permanent=False) from None
    try:
        return await sender.send(account.smtp, login, envelope, message)
    except DeliveryFailed as failure:
        if not failure.login_refused:
            raise
        try:
            again = await logins.renewed(account, login)
        except ReauthRequired:
            raise
        except MailServerRejected as error:
            raise DeliveryFailed(error.message, permanent=False) from None
        if again is None:
            raise
        return await sender.send(account.smtp, again, envelope, message)
