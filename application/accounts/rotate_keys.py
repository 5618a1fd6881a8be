from dataclasses import replace

from application.audit import Auditor
from domain.accounts import EncryptedSecret
from domain.audit import AuditAction
from domain.ports.persistence import UnitOfWork
from domain.ports.security import CredentialCipher


class RotateEncryptionKeys:
    """Re-encrypts every stored mail password that the current key did not encrypt.

    Runs in batches, one transaction each, so a large install does not hold one long transaction
    and an interrupted rotation simply resumes. Returns how many accounts were re-encrypted.
    """

    def __init__(self, uow: UnitOfWork, cipher: CredentialCipher, auditor: Auditor, batch_size: int = 200) -> None:
        self._uow = uow
        self._cipher = cipher
        self._auditor = auditor
        self._batch_size = batch_size

    async def __call__(self) -> int:
        current = self._cipher.current_key_id
        rotated = 0
        while True:
            async with self._uow as uow:
                batch = await uow.accounts.encrypted_with_other_keys(current, self._batch_size)
                if not batch:
                    return rotated
                for account in batch:
                    await uow.accounts.update(
                        replace(
                            account,
                            imap_password=self._reencrypt(account.imap_password),
                            smtp_password=self._reencrypt(account.smtp_password),
                        )
                    )
                    await self._auditor.record(uow, AuditAction.KEYS_ROTATED, account.tenant_id, None, account.id)
                await uow.commit()
                rotated += len(batch)

    def _reencrypt(self, secret: EncryptedSecret) -> EncryptedSecret:
        if secret.key_id == self._cipher.current_key_id:
            return secret
        return self._cipher.encrypt(self._cipher.decrypt(secret))
