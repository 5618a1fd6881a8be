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

    The key id is bound as associated data, so a ciphertext relabelled with another key id fails to decrypt.
    """

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._aeads = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    @property
    def current_key_id(self) -> str:
        return self._keyring.current_key_id

    def encrypt(self, plaintext: str) -> EncryptedSecret:
        key_id = self._keyring.current_key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[key_id].encrypt(nonce, plaintext.encode(), key_id.encode())
        return EncryptedSecret(key_id=key_id, ciphertext=nonce + sealed)

    def decrypt(self, secret: EncryptedSecret) -> str:
        aead = self._aeads.get(secret.key_id)
        if aead is None:
            raise DependencyUnavailable(f"encryption key {secret.key_id!r} is not configured")
        nonce, sealed = secret.ciphertext[:_NONCE_BYTES], secret.ciphertext[_NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, sealed, secret.key_id.encode()).decode()
        except InvalidTag:
            raise DependencyUnavailable(f"a secret under key {secret.key_id!r} failed authentication") from None
