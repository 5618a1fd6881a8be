import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.crypto.keyring import Keyring
from domain.accounts import EncryptedSecret
from domain.errors import DependencyUnavailable
from domain.ports.security import CredentialCipher

_NONCE_BYTES = 12


class AesGcmCredentialCipher(CredentialCipher):
    """AES-256-GCM with a random 96-bit nonce per secret (NIST SP 800-38D).

    The associated data binds the key id and where the secret is stored (`EncryptedSecret.bound_to`): a
    ciphertext relabelled with another key id, or copied into another account or field, fails to decrypt.
    Secrets written before the binding was added have the key id alone as associated data. They are read only
    with `accept_unbound` (key rotation, which rewrites them bound, and deployments that allow them while they
    upgrade): anywhere else an old ciphertext, from a row not yet rotated or from a backup, could still be
    copied into another account.
    """

    def __init__(self, keyring: Keyring, *, accept_unbound: bool = False) -> None:
        self._keyring = keyring
        self._aeads = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}
        self._accept_unbound = accept_unbound

    @property
    def current_key_id(self) -> str:
        return self._keyring.current_key_id

    def encrypt(self, plaintext: str, bound_to: str) -> EncryptedSecret:
        key_id = self._keyring.current_key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[key_id].encrypt(nonce, plaintext.encode(), _bound_data(key_id, bound_to))
        return EncryptedSecret(key_id=key_id, ciphertext=nonce + sealed, bound_to=bound_to)

    def decrypt(self, secret: EncryptedSecret) -> str:
        plaintext, _ = self._open(secret)
        return plaintext

    def is_current(self, secret: EncryptedSecret) -> bool:
        return secret.key_id == self.current_key_id and self._open(secret)[1]

    def _open(self, secret: EncryptedSecret) -> tuple[str, bool]:
        """The plaintext, and whether it was bound (rather than written before binding)."""
        aead = self._aeads.get(secret.key_id)
        if aead is None:
            raise DependencyUnavailable(f"encryption key {secret.key_id!r} is not configured")
        nonce, sealed = secret.ciphertext[:_NONCE_BYTES], secret.ciphertext[_NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, sealed, _bound_data(secret.key_id, secret.bound_to)).decode(), True
        except InvalidTag:
            pass
        try:
            plaintext = aead.decrypt(nonce, sealed, secret.key_id.encode()).decode()
        except InvalidTag:
            raise DependencyUnavailable(f"a secret under key {secret.key_id!r} failed authentication") from None
        if not self._accept_unbound:
            raise DependencyUnavailable(
                f"a secret under key {secret.key_id!r} was stored before secrets were bound to their account:"
                " run `mailroom keys rotate`"
            )
        return plaintext, False


def _bound_data(key_id: str, bound_to: str) -> bytes:
    """Key ids are [A-Za-z0-9_-], so the NUL keeps this apart from the key id alone of unbound secrets."""
    return f"{key_id}\0{bound_to}".encode()
