"""Time-ordered ids (UUIDv7, RFC 9562 section 5.7): new rows land at the end of the primary-key index."""

import os
import time
from uuid import UUID


def new_id() -> UUID:
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76
    value |= (rand >> 64 & 0x0FFF) << 64
    value |= 0b10 << 62
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF
    return UUID(int=value)
