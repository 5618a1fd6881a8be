import base64
import binascii
import os
import re
from dataclasses import dataclass, field

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
KEY_BYTES = 32


class KeyringError(ValueError):
    """The configured keys cannot be used; the message says why without showing any key."""


@dataclass(frozen=True, slots=True)
class Keyring:
    """AES-256 keys by id; the first one encrypts, all of them decrypt."""

    current_key_id: str
    keys: dict[str, bytes] = field(repr=False)

    @classmethod
    def parse(cls, spec: str) -> "Keyring":
        """Reads `id:base64key,id:base64key`, newest first (the format of MAILROOM_ENCRYPTION_KEYS)."""
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(part.strip() for part in spec.split(",") if part.strip()):
            key_id, sep, encoded = entry.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise KeyringError(f"key {position + 1}: expected id:base64key with a short [A-Za-z0-9_-] id")
            try:
                key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                raise KeyringError(f"key {key_id!r}: not valid base64") from None
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {key_id!r}: must decode to {KEY_BYTES} bytes, not {len(key)}")
            if key_id in keys:
                raise KeyringError(f"key id {key_id!r} appears twice")
            keys[key_id] = key
        if not keys:
            raise KeyringError("no encryption key configured")
        return cls(current_key_id=next(iter(keys)), keys=keys)

    @staticmethod
    def generate_entry(key_id: str) -> str:
        return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip('=')}"
