"""Time-ordered ids (UUIDv7, RFC 9562 section 5.7): new rows land at the end of the primary-key index.

Ids made by one process only ever grow, also within a millisecond (RFC 9562 section 6.2, method 2: one more
than the last), so rows written in one batch keep their order when sorted by id: a thread's messages received
in the same second come in the order the server numbered them."""

import os
import threading
import time
from uuid import UUID

_RAND_B = 0x3FFF_FFFF_FFFF_FFFF
_last = 0
_lock = threading.Lock()


def new_id() -> UUID:
    global _last
    with _lock:
        value = _fresh()
        if value <= _last and (_last & _RAND_B) != _RAND_B:
            value = _last + 1
        while value <= _last:
            time.sleep(0.0005)
            value = _fresh()
        _last = value
    return UUID(int=value)


def _fresh() -> int:
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76
    value |= (rand >> 64 & 0x0FFF) << 64
    value |= 0b10 << 62
    value |= rand & _RAND_B
    return value
