from datetime import datetime
from uuid import UUID

from application.accounts.commands import NewMailAccount
from application.accounts.verification import LoginVerifier
from application.audit import Auditor
from domain.accounts import (
    PLAINTEXT_ALLOWED,
    EncryptedSecret,
    GrantStatus,
    MailAccount,
    MailLogin,
    TransportPolicy,
    secret_binding,
)
from domain.audit import AuditAction
from domain.auth import Principal
from domain.errors import Conflict, InvalidInput
from domain.ids import new_id
from domain.oauth import OAuthGrant, OAuthTokens, token_binding
from domain.ports.oauth import OAuthProviders
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import CredentialCipher


class CreateMailAccount:
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

    async def __call__(self, principal: Principal, new: NewMailAccount, *, verify: bool = False) -> MailAccount:
        details = new.details()
        self._transport.check(details)
        grant = new.grant
        if grant is not None:
            require_provider(self._providers, grant, "imap.auth" if new.imap.auth else "smtp.auth")
        if verify:
            await self._verifier(
                details.imap, given_login(new.imap.password, grant), details.smtp, given_login(new.smtp.password, grant)
            )
        now, account_id = self._clock.now(), new_id()
        account = MailAccount(
            id=account_id,
            tenant_id=principal.tenant_id,
            name=details.name,
            email=details.email,
            imap=details.imap,
            smtp=details.smtp,
            sync_interval_seconds=details.sync_interval_seconds,
            server_saves_sent=details.server_saves_sent,
            aliases=details.aliases,
            imap_password=self._password(new.imap.password, account_id, "imap_password"),
            smtp_password=self._password(new.smtp.password, account_id, "smtp_password"),
            created_at=now,
            updated_at=now,
            owner_id=principal.user_id,
        )
        async with self._uow as uow:
            if await uow.accounts.email_taken(principal.tenant_id, account.email):
                raise Conflict(f"an account for {account.email} already exists")
            await uow.accounts.add(account)
            if grant is not None:
                await uow.oauth_grants.put(sealed_grant(self._cipher, account, grant, now))
                account.oauth = GrantStatus(grant.provider, False, grant.expires_at)
            await self._auditor.record(
                uow, AuditAction.ACCOUNT_CREATED, principal.tenant_id, principal.user_id, account.id
            )
            await uow.commit()
        return account

    def _password(self, password: str | None, account_id: UUID, field: str) -> EncryptedSecret | None:
        return None if password is None else self._cipher.encrypt(password, secret_binding(account_id, field))


def given_login(password: str | None, grant: OAuthTokens | None) -> MailLogin:
    """The login a request gives for one side, for `?verify=true`: its password, else the grant's access token."""
    if password is not None:
        return MailLogin(password)
    assert grant is not None, "a side without a password signs in with the account's grant"
    return MailLogin(grant.access_token, bearer=True)


def require_provider(providers: OAuthProviders | None, tokens: OAuthTokens, field: str) -> None:
    """Tokens are only taken for a provider the deployment is registered with: it is the one that renews them."""
    if providers is None or providers.get(tokens.provider) is None:
        raise InvalidInput(f"{field}.provider", f"no OAuth2 provider {tokens.provider!r} is configured")


def sealed_grant(cipher: CredentialCipher, account: MailAccount, tokens: OAuthTokens, now: datetime) -> OAuthGrant:
    """The grant as stored: its tokens encrypted and bound to the account (domain.oauth.token_binding)."""
    refresh = tokens.refresh_token
    return OAuthGrant(
        account_id=account.id,
        tenant_id=account.tenant_id,
        provider=tokens.provider,
        access_token=cipher.encrypt(tokens.access_token, token_binding(account.id, "oauth_access")),
        refresh_token=None if refresh is None else cipher.encrypt(refresh, token_binding(account.id, "oauth_refresh")),
        expires_at=tokens.expires_at,
        updated_at=now,
    )
