from dataclasses import replace

from application.audit import Auditor
from domain.accounts import EncryptedSecret, MailAccount, secret_binding
from domain.audit import AuditAction
from domain.oauth import OAuthGrant, token_binding
from domain.ports.persistence import UnitOfWork
from domain.ports.security import CredentialCipher


class RotateEncryptionKeys:
    """Re-encrypts every stored mail password and OAuth2 token that is not under the current key and bound to its
    account and field (older keys, and secrets written before binding existed). A grant is read under its lock,
    as a renewal writes it: a token renewed meanwhile must not be overwritten by the one read before.

    Runs in batches, one transaction each, so a large install does not hold one long transaction
    and an interrupted rotation simply resumes. Returns how many accounts were re-encrypted.
    """

    def __init__(self, uow: UnitOfWork, cipher: CredentialCipher, auditor: Auditor, batch_size: int = 200) -> None:
        self._uow = uow
        self._cipher = cipher
        self._auditor = auditor
        self._batch_size = batch_size

    async def __call__(self) -> int:
        async with self._uow as uow:
            ids = await uow.accounts.all_ids()
        rotated = 0
        for start in range(0, len(ids), self._batch_size):
            async with self._uow as uow:
                for tenant_id, account_id in ids[start : start + self._batch_size]:
                    account = await uow.accounts.get(tenant_id, account_id)
                    if account is None:
                        continue
                    grant = await uow.oauth_grants.lock(tenant_id, account_id) if account.uses_oauth else None
                    if self._current(account, grant):
                        continue
                    await uow.accounts.update(
                        replace(
                            account,
                            imap_password=self._reencrypt(
                                account.imap_password, secret_binding(account.id, "imap_password")
                            ),
                            smtp_password=self._reencrypt(
                                account.smtp_password, secret_binding(account.id, "smtp_password")
                            ),
                        )
                    )
                    if grant is not None:
                        access = self._reencrypt(grant.access_token, token_binding(account.id, "oauth_access"))
                        refresh = self._reencrypt(grant.refresh_token, token_binding(account.id, "oauth_refresh"))
                        assert access is not None
                        await uow.oauth_grants.put(replace(grant, access_token=access, refresh_token=refresh))
                    await self._auditor.record(uow, AuditAction.KEYS_ROTATED, account.tenant_id, None, account.id)
                    rotated += 1
                await uow.commit()
        return rotated

    def _current(self, account: MailAccount, grant: OAuthGrant | None) -> bool:
        secrets = [*account.passwords]
        if grant is not None:
            secrets += [grant.access_token] + ([grant.refresh_token] if grant.refresh_token else [])
        return all(self._cipher.is_current(secret) for secret in secrets)

    def _reencrypt(self, secret: EncryptedSecret | None, binding: str) -> EncryptedSecret | None:
        if secret is None or self._cipher.is_current(secret):
            return secret
        return self._cipher.encrypt(self._cipher.decrypt(secret), binding)
