import asyncio
import base64
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from domain.ports.security import PasswordHasher


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt work factors (RFC 7914). The default, n=2**15 r=8, needs 32 MiB and ~0.1 s a hash."""

    n: int = 2**15
    r: int = 8
    p: int = 1


class ScryptPasswordHasher(PasswordHasher):
    """Hashes as `scrypt$n$r$p$salt$hash`; the cost is stored in each hash, so it can be raised later.

    The work runs in a thread: it is CPU- and memory-bound and must not stall the event loop.
    """

    def __init__(self, cost: ScryptCost = ScryptCost()) -> None:
        self._cost = cost

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash, password)

    async def verify(self, password: str, password_hash: str) -> bool:
        return await asyncio.to_thread(self._verify, password, password_hash)

    def _hash(self, password: str) -> str:
        salt = os.urandom(16)
        n, r, p = self._cost.n, self._cost.r, self._cost.p
        digest = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())
        return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"

    @staticmethod
    def _verify(password: str, password_hash: str) -> bool:
        try:
            scheme, n, r, p, salt, digest = password_hash.split("$")
            if scheme != "scrypt":
                return False
            kdf = Scrypt(salt=_unb64(salt), length=32, n=int(n), r=int(r), p=int(p))
            kdf.verify(password.encode(), _unb64(digest))
        except (ValueError, InvalidKey):
            return False
        return True


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
