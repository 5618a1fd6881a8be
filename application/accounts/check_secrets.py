from domain.errors import DependencyUnavailable
from domain.ports.persistence import UnitOfWork
from domain.ports.security import CredentialCipher

SAMPLES_PER_KEY = 3


class CheckStoredSecrets:
    """Decrypts stored passwords under each key id in use, for `mailroom check`.

    A round trip through the configured keys proves nothing about the stored passwords: a wrong key under an
    existing id (a typo, another environment's key) passes it, and every sync then fails to log in. Decrypting
    real stored secrets under each id catches that before the services start. A few secrets are tried for each
    id, always the same ones, and the id passes when one decrypts: a wrong key fails them all, while one damaged
    row should not stop every service. Returns the key ids checked; raises DependencyUnavailable (naming the key
    id, never the key) for an id none of whose secrets decrypt.
    """

    def __init__(self, uow: UnitOfWork, cipher: CredentialCipher) -> None:
        self._uow = uow
        self._cipher = cipher

    async def __call__(self) -> list[str]:
        async with self._uow as uow:
            samples = await uow.accounts.samples_per_key_id(SAMPLES_PER_KEY)
        failures: dict[str, DependencyUnavailable] = {}
        passed: set[str] = set()
        for account in samples:
            for secret in account.passwords:
                if secret.key_id in passed:
                    continue
                try:
                    self._cipher.decrypt(secret)
                except DependencyUnavailable as refused:
                    failures.setdefault(secret.key_id, refused)
                else:
                    passed.add(secret.key_id)
        for key_id, failure in failures.items():
            if key_id not in passed:
                raise failure
        return sorted(passed)
