"""Explicit translation between tables and domain objects."""

from typing import Any

from sqlalchemy import Row

from adapters.persistence.models import MailAccountModel, OAuthGrantModel, TenantModel, UserModel
from domain.accounts import EncryptedSecret, MailAccount, Security, ServerSettings, secret_binding
from domain.oauth import OAuthGrant, token_binding
from domain.tenants import Role, Tenant, User


def tenant_from_row(row: TenantModel) -> Tenant:
    return Tenant(id=row.id, slug=row.slug, name=row.name)


def tenant_to_row(tenant: Tenant) -> TenantModel:
    return TenantModel(id=tenant.id, slug=tenant.slug, name=tenant.name)


def user_from_row(row: UserModel | Row[Any]) -> User:
    return User(
        id=row.id,
        tenant_id=row.tenant_id,
        email=row.email,
        password_hash=row.password_hash,
        role=Role(row.role),
        created_at=row.created_at,
        disabled=row.disabled,
    )


def user_to_row(user: User) -> UserModel:
    row = UserModel(
        id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        password_hash=user.password_hash,
        role=user.role.value,
        disabled=user.disabled,
    )
    if user.created_at is not None:
        row.created_at = row.updated_at = user.created_at
    return row


def account_from_row(row: MailAccountModel) -> MailAccount:
    return MailAccount(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        email=row.email,
        imap=ServerSettings(row.imap_host, row.imap_port, Security(row.imap_security), row.imap_username, "imap"),
        smtp=ServerSettings(row.smtp_host, row.smtp_port, Security(row.smtp_security), row.smtp_username, "smtp"),
        imap_password=None
        if row.imap_auth == OAUTH2
        else EncryptedSecret(
            row.imap_password_key_id, row.imap_password_ciphertext, secret_binding(row.id, "imap_password")
        ),
        smtp_password=None
        if row.smtp_auth == OAUTH2
        else EncryptedSecret(
            row.smtp_password_key_id, row.smtp_password_ciphertext, secret_binding(row.id, "smtp_password")
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        sync_interval_seconds=row.sync_interval_seconds,
        server_saves_sent=row.server_saves_sent,
        aliases=tuple(row.aliases),
        owner_id=row.owner_id,
    )


def copy_account_to_row(account: MailAccount, row: MailAccountModel) -> MailAccountModel:
    row.id = account.id
    row.tenant_id = account.tenant_id
    row.name = account.name
    row.email = account.email
    row.imap_host, row.imap_port = account.imap.host, account.imap.port
    row.imap_security, row.imap_username = account.imap.security.value, account.imap.username
    row.smtp_host, row.smtp_port = account.smtp.host, account.smtp.port
    row.smtp_security, row.smtp_username = account.smtp.security.value, account.smtp.username
    row.imap_auth, row.imap_password_key_id, row.imap_password_ciphertext = _credential(account.imap_password)
    row.smtp_auth, row.smtp_password_key_id, row.smtp_password_ciphertext = _credential(account.smtp_password)
    row.aliases = list(account.aliases)
    row.created_at = account.created_at
    row.updated_at = account.updated_at
    row.sync_interval_seconds = account.sync_interval_seconds
    row.server_saves_sent = account.server_saves_sent
    row.owner_id = account.owner_id
    return row


OAUTH2 = "oauth2"


def _credential(password: EncryptedSecret | None) -> tuple[str, str, bytes]:
    """(auth, key id, ciphertext): a side that signs in with the OAuth2 grant keeps empty password columns."""
    return (OAUTH2, "", b"") if password is None else ("password", password.key_id, password.ciphertext)


def grant_from_row(row: OAuthGrantModel) -> OAuthGrant:
    refresh = None
    if row.refresh_key_id is not None and row.refresh_ciphertext is not None:
        refresh = EncryptedSecret(
            row.refresh_key_id, row.refresh_ciphertext, token_binding(row.account_id, "oauth_refresh")
        )
    return OAuthGrant(
        account_id=row.account_id,
        tenant_id=row.tenant_id,
        provider=row.provider,
        access_token=EncryptedSecret(
            row.access_key_id, row.access_ciphertext, token_binding(row.account_id, "oauth_access")
        ),
        refresh_token=refresh,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
        reauth_required=row.reauth_required,
        renewing_until=row.renewing_until,
        renewed_at=row.renewed_at,
    )


def grant_values(grant: OAuthGrant) -> dict[str, object]:
    refresh = grant.refresh_token
    return {
        "account_id": grant.account_id,
        "tenant_id": grant.tenant_id,
        "provider": grant.provider,
        "access_key_id": grant.access_token.key_id,
        "access_ciphertext": grant.access_token.ciphertext,
        "refresh_key_id": None if refresh is None else refresh.key_id,
        "refresh_ciphertext": None if refresh is None else refresh.ciphertext,
        "expires_at": grant.expires_at,
        "reauth_required": grant.reauth_required,
        "updated_at": grant.updated_at,
        "renewing_until": grant.renewing_until,
        "renewed_at": grant.renewed_at,
    }
