from dataclasses import replace
from uuid import UUID

from application.accounts.commands import MailAccountChanges, ServerLoginChanges
from application.accounts.create import given_login, require_provider, sealed_grant
from application.accounts.logins import MailLogins
from application.accounts.read import GetMailAccount
from application.accounts.verification import LoginVerifier
from application.audit import Auditor
from domain.access import Reach
from domain.accounts import (
    PLAINTEXT_ALLOWED,
    EncryptedSecret,
    GrantStatus,
    MailAccount,
    MailAccountDetails,
    MailLogin,
    TransportPolicy,
    secret_binding,
)
from domain.audit import AuditAction
from domain.auth import Principal
from domain.errors import Conflict, InvalidInput, NotFound
from domain.ports.oauth import OAuthProviders
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import CredentialCipher


class UpdateMailAccount:
    """Serves both PUT (every field given) and PATCH (some fields given); omitted passwords are kept. The account's
    owner or an admin may change it; only an admin may give it to another owner (`new_owner`), who must be an
    enabled user of the tenant.

    A side given a password signs in with it from then on; a side given `auth` with the OAuth2 grant, which
    replaces the account's grant (one per account, see commands.one_grant). A grant no side uses any more is
    deleted."""

    def __init__(
        self,
        uow: UnitOfWork,
        cipher: CredentialCipher,
        clock: Clock,
        verifier: LoginVerifier,
        auditor: Auditor,
        transport: TransportPolicy = PLAINTEXT_ALLOWED,
        providers: OAuthProviders | None = None,
    ) -> None:
        self._uow = uow
        self._cipher = cipher
        self._clock = clock
        self._verifier = verifier
        self._auditor = auditor
        self._transport = transport
        self._providers = providers

    async def __call__(
        self,
        principal: Principal,
        account_id: UUID,
        changes: MailAccountChanges,
        *,
        verify: bool = False,
        new_owner: UUID | None = None,
    ) -> MailAccount:
        if new_owner is not None:
            principal.require_admin()
        current = await GetMailAccount(self._uow)(principal, account_id, Reach.MANAGE)
        details = changes.apply_to(MailAccountDetails.of(current))
        self._transport.check(details)
        grant = changes.imap.auth or changes.smtp.auth
        if grant is not None:
            require_provider(self._providers, grant, "imap.auth" if changes.imap.auth else "smtp.auth")
        if verify:
            imap_login = await self._login(current, changes.imap, "imap")
            smtp_login = await self._login(current, changes.smtp, "smtp")
            await self._verifier(details.imap, imap_login, details.smtp, smtp_login)
        async with self._uow as uow:
            stored = await uow.accounts.get(principal.tenant_id, account_id)
            if stored is None:
                raise NotFound("mail account not found")
            if _logins(stored) != _logins(current):
                raise Conflict("the account's servers or passwords changed meanwhile: read it again and retry")
            if await uow.accounts.email_taken(principal.tenant_id, details.email, excluding=account_id):
                raise Conflict(f"an account for {details.email} already exists")
            updated = replace(details.apply_to(stored), updated_at=self._clock.now(), oauth=current.oauth)
            if new_owner is not None and new_owner != stored.owner_id:
                owner = await uow.users.get(new_owner)
                if owner is None or owner.tenant_id != principal.tenant_id or owner.disabled:
                    raise InvalidInput("owner_id", "must be an enabled user of this tenant")
                updated.owner_id = new_owner
                await uow.grants.delete(principal.tenant_id, account_id, new_owner)  # owning is more than a grant
                await self._auditor.record(
                    uow, AuditAction.ACCOUNT_OWNER_CHANGED, principal.tenant_id, principal.user_id, account_id
                )
            updated.imap_password = self._password(changes.imap, updated.imap_password, account_id, "imap_password")
            updated.smtp_password = self._password(changes.smtp, updated.smtp_password, account_id, "smtp_password")
            if grant is not None:
                sealed = sealed_grant(self._cipher, updated, grant, self._clock.now())
                kept = await uow.oauth_grants.get(principal.tenant_id, account_id)
                if sealed.refresh_token is None and kept is not None and kept.provider == grant.provider:
                    # providers send a refresh token with the first consent only (Google unless asked again)
                    sealed = replace(sealed, refresh_token=kept.refresh_token)  # bound to the same account and field
                await uow.oauth_grants.put(sealed)
                updated.oauth = GrantStatus(grant.provider, False, grant.expires_at)
            elif current.uses_oauth and not updated.uses_oauth:
                await uow.oauth_grants.delete(principal.tenant_id, account_id)
                updated.oauth = None
            await uow.accounts.update(updated)
            await self._auditor.record(
                uow, AuditAction.ACCOUNT_UPDATED, principal.tenant_id, principal.user_id, account_id
            )
            await uow.commit()
        return updated

    def _password(
        self, change: ServerLoginChanges, stored: EncryptedSecret | None, account_id: UUID, field: str
    ) -> EncryptedSecret | None:
        if change.password is not None:
            return self._cipher.encrypt(change.password, secret_binding(account_id, field))
        return None if change.auth is not None else stored

    async def _login(self, current: MailAccount, change: ServerLoginChanges, side: str) -> MailLogin:
        """What `?verify=true` signs in with: what the request gives, else what is stored (an access token renewed
        if it is about to expire)."""
        if change.new_credentials:
            return given_login(change.password, change.auth)
        logins = MailLogins(self._uow, self._cipher, self._clock, self._providers)
        return await (logins.imap(current) if side == "imap" else logins.smtp(current))


def _logins(account: MailAccount) -> tuple[object, ...]:
    """What decides where a stored password goes. The changes were checked against the account as first read
    (a new server needs its password); written over a version whose servers or passwords changed since, they
    could pair one request's server with another's password."""
    return (account.imap, account.smtp, account.imap_password, account.smtp_password)
