"""Blob keys: the tenant a stored blob belongs to, and the SHA-256 of its bytes.

A key is `<tenant id hex>/<SHA-256 hex>`. Blobs are deduplicated within a tenant only: were two tenants' equal
bytes one blob, a tenant could tell from how fast a write returns (an existing blob is not written again), or
from a blob outliving its own deletion, whether another tenant holds a given message. Keys stored before keys
named their tenant are the bare SHA-256; they stay readable by whoever's row names them.
"""

import hashlib
import re
from dataclasses import dataclass
from uuid import UUID

from domain.errors import InvalidInput

_DIGEST = re.compile(r"[0-9a-f]{64}")
_TENANT_KEY = re.compile(r"([0-9a-f]{32})/([0-9a-f]{64})")
SHARDS = tuple(f"{n:02x}" for n in range(256))
"""Blobs split by the first two hex digits of their SHA-256: the slices garbage collection takes one at a time."""


@dataclass(frozen=True, slots=True)
class BlobKey:
    digest: str
    tenant_id: UUID | None  # None: a key stored before keys named their tenant

    @classmethod
    def of(cls, tenant_id: UUID, data: bytes) -> "BlobKey":
        return cls(hashlib.sha256(data).hexdigest(), tenant_id)

    @classmethod
    def parse(cls, key: str) -> "BlobKey":
        if match := _TENANT_KEY.fullmatch(key):
            return cls(match[2], UUID(hex=match[1]))
        if _DIGEST.fullmatch(key):
            return cls(key, None)
        raise InvalidInput("key", "not a blob key")

    @property
    def shard(self) -> str:
        return self.digest[:2]

    def readable_by(self, tenant_id: UUID) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id

    def __str__(self) -> str:
        return self.digest if self.tenant_id is None else f"{self.tenant_id.hex}/{self.digest}"


def is_digest(name: str) -> bool:
    return _DIGEST.fullmatch(name) is not None
