from dataclasses import replace

from application.audit import Auditor
from domain.accounts import EncryptedSecret, MailAccount, secret_binding
from domain.audit import AuditAction
from domain.ports.persistence import UnitOfWork
from domain.ports.security import CredentialCipher


class RotateEncryptionKeys:
    """Re-encrypts every stored mail password that is not under the current key and bound to its account and field
    (older keys, and secrets written before binding existed).

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
                    if account is None or self._current(account):
                        continue
                    await uow.accounts.update(
                        replace(
                            account,
                            imap_password=self._reencrypt(account, account.imap_password, "imap_password"),
                            smtp_password=self._reencrypt(account, account.smtp_password, "smtp_password"),
                        )
                    )
                    await self._auditor.record(uow, AuditAction.KEYS_ROTATED, account.tenant_id, None, account.id)
                    rotated += 1
                await uow.commit()
        return rotated

    def _current(self, account: MailAccount) -> bool:
        return self._cipher.is_current(account.imap_password) and self._cipher.is_current(account.smtp_password)

    def _reencrypt(self, account: MailAccount, secret: EncryptedSecret, field: str) -> EncryptedSecret:
        if self._cipher.is_current(secret):
            return secret
        return self._cipher.encrypt(self._cipher.decrypt(secret), secret_binding(account.id, field))
