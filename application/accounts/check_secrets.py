from domain.ports.persistence import UnitOfWork
from domain.ports.security import CredentialCipher


class CheckStoredSecrets:
    """Decrypts one stored password under each key id in use, for `mailroom check`.

    A round trip through the configured keys proves nothing about the stored passwords: a wrong key under an
    existing id (a typo, another environment's key) passes it, and every sync then fails to log in. Decrypting a
    real stored secret under each id catches that before the services start. Returns the key ids checked;
    raises DependencyUnavailable (naming the key id, never the key) when one does not decrypt.
    """

    def __init__(self, uow: UnitOfWork, cipher: CredentialCipher) -> None:
        self._uow = uow
        self._cipher = cipher

    async def __call__(self) -> list[str]:
        async with self._uow as uow:
            samples = await uow.accounts.one_per_key_id()
        checked: set[str] = set()
        for account in samples:
            for secret in (account.imap_password, account.smtp_password):
                if secret.key_id not in checked:
                    self._cipher.decrypt(secret)
                    checked.add(secret.key_id)
        return sorted(checked)
