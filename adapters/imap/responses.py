"""Reading aioimaplib's response lines: LIST, SELECT, FETCH, SEARCH and VANISHED (RFC 3501, RFC 7162).

A number outside its range in the grammar, or a date that is no date, raises UnreadableResponse: the sync fails that
folder rather than storing a value the database, or the next sync, cannot use."""

import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from adapters.imap.utf7 import decode_mailbox_name
from domain.messages import Flags
from domain.remote import FlagUpdate

Line = bytes | bytearray

_LIST = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delimiter>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$', re.IGNORECASE)
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")
_FETCH = re.compile(rb"^(\d+) FETCH \(", re.IGNORECASE)
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)", re.IGNORECASE)
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"', re.IGNORECASE)
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.IGNORECASE)
_MODSEQ = re.compile(rb"\bMODSEQ \((\d+)\)", re.IGNORECASE)
_CODE = re.compile(rb"\[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ) (\d+)\]", re.IGNORECASE)
_EXISTS = re.compile(rb"^(\d+) EXISTS$", re.IGNORECASE)
_VANISHED = re.compile(rb"^VANISHED(?: \(EARLIER\))? ([\d:,]+)$", re.IGNORECASE)
_SEARCH = re.compile(rb"^([\d ]*)(?:\(MODSEQ \d+\))?$", re.IGNORECASE)

MAX_UID = 2**32 - 1
"""UIDs, UIDVALIDITY, UIDNEXT and message counts are unsigned 32-bit numbers (RFC 3501 section 9, nz-number)."""
MAX_NUMBER64 = 2**63 - 1
"""Mod-sequences (RFC 7162 section 7) and RFC822.SIZE (RFC 9051 number64) are 63-bit."""
MAX_VANISHED = 100_000
"""The most UIDs a VANISHED report is expanded to. A larger one (`1:4294967295` is one line) is not held as a
list: the sync compares the UIDs the server has with the stored ones instead."""


class UnreadableResponse(ValueError):
    """A server's answer breaks the protocol's grammar or ranges: the folder cannot be synced from it."""


def _number(digits: bytes, name: str, low: int = 0, high: int = MAX_NUMBER64) -> int:
    """`digits` as a number within [low, high]; the length is checked first, as int() of thousands of digits is
    refused by Python and slow before that."""
    if not digits.isdigit() or len(digits) > 20:
        raise UnreadableResponse(f"{name} {digits[:20].decode(errors='replace')!r} is no number in range")
    value = int(digits)
    if not low <= value <= high:
        raise UnreadableResponse(f"{name} {value} is out of range")
    return value


@dataclass(frozen=True, slots=True)
class ListedFolder:
    name: str
    delimiter: str | None
    flags: list[str]


def parse_list(lines: Sequence[Line]) -> list[ListedFolder]:
    folders: list[ListedFolder] = []
    position = 0
    while position < len(lines):
        line = bytes(lines[position])
        position += 1
        match = _LIST.match(line)
        if not match:
            continue
        name = match["name"]
        if _LITERAL.search(name) and position < len(lines):
            name, position = bytes(lines[position]), position + 1
        folders.append(
            ListedFolder(
                name=decode_mailbox_name(_unquote(name.decode("utf-8", "replace"))),
                delimiter=None if match["delimiter"].upper() == b"NIL" else _unquote(match["delimiter"].decode()),
                flags=match["flags"].decode().split(),
            )
        )
    return folders


@dataclass
class SelectReport:
    """`vanished` is None when the server reported more than MAX_VANISHED of the stored UIDs as vanished."""

    uidvalidity: int = 0
    uidnext: int = 0
    exists: int = 0
    highest_modseq: int | None = None
    vanished: list[int] | None = field(default_factory=list)


def parse_select(lines: Sequence[Line], last_known_uid: int = MAX_UID) -> SelectReport:
    """The SELECT/EXAMINE answer (RFC 3501 section 6.3.1); VANISHED UIDs above `last_known_uid` are left out, as
    nothing was stored under them. UIDVALIDITY is required: without it no UID can be kept from one session to the
    next (RFC 3501 section 2.3.1.1)."""
    report = SelectReport()
    vanished: list[bytes] = []
    for raw in lines:
        line = bytes(raw)
        for code, value in _CODE.findall(line):
            name = code.decode().upper()
            if name == "HIGHESTMODSEQ":
                report.highest_modseq = _number(value, name)
            elif name == "UIDVALIDITY":
                report.uidvalidity = _number(value, name, 1, MAX_UID)
            else:
                report.uidnext = _number(value, name, 1, MAX_UID + 1)
        if exists := _EXISTS.match(line):
            report.exists = _number(exists[1], "EXISTS", 0, MAX_UID)
        if match := _VANISHED.match(line):
            vanished.append(match[1])
    if not report.uidvalidity:
        raise UnreadableResponse("no UIDVALIDITY")
    report.vanished = expand_uid_set(b",".join(vanished).decode(), last_known_uid, MAX_VANISHED) if vanished else []
    return report


@dataclass
class FetchItem:
    uid: int
    flags: Flags | None = None
    internal_date: datetime | None = None
    size: int | None = None
    modseq: int | None = None
    body: bytes | None = None


def parse_fetch(lines: Sequence[Line]) -> Iterator[FetchItem]:
    """FETCH responses by UID; a literal (`{n}` then the bytes) is the body of the line before it."""
    current: FetchItem | None = None
    for raw in lines:
        if isinstance(raw, bytearray):
            if current is not None:
                current.body = bytes(raw)
            continue
        if not _FETCH.match(raw):
            continue
        if current is not None:
            yield current
        current = _fetch_item(bytes(raw))
    if current is not None:
        yield current


def _fetch_item(line: bytes) -> FetchItem | None:
    uid = _UID.search(line)
    if uid is None:
        return None
    item = FetchItem(uid=_number(uid[1], "UID", 1, MAX_UID))
    if flags := _FLAGS.search(line):
        item.flags = Flags.from_imap(flags[1].decode("utf-8", "replace").split())
    if date := _INTERNALDATE.search(line):
        try:
            item.internal_date = datetime.strptime(date[1].decode(), "%d-%b-%Y %H:%M:%S %z")
        except ValueError:
            raise UnreadableResponse(f"INTERNALDATE {date[1][:40].decode(errors='replace')!r}") from None
    if size := _SIZE.search(line):
        item.size = _number(size[1], "RFC822.SIZE")
    if modseq := _MODSEQ.search(line):
        item.modseq = _number(modseq[1], "MODSEQ")
    return item


def flag_updates(lines: Sequence[Line]) -> list[FlagUpdate]:
    return [FlagUpdate(item.uid, item.flags, item.modseq) for item in parse_fetch(lines) if item.flags is not None]


def parse_search(lines: Sequence[Line]) -> "array[int]":
    """UIDs of a UID SEARCH answer, ascending and once each, in 4 bytes apiece (a big folder's answer is millions
    of UIDs). aioimaplib gives the data of each `* SEARCH` line, then the text of the tagged status; with a MODSEQ
    criterion the data ends with `(MODSEQ n)` (RFC 7162 section 3.1.5). ESEARCH is not asked for."""
    found = array("I")
    for raw in lines[:-1]:
        match = _SEARCH.match(bytes(raw))
        if match is None:
            raise UnreadableResponse(f"SEARCH data {bytes(raw)[:40].decode(errors='replace')!r}")
        try:
            found.extend(array("I", map(int, match[1].split())))
        except (OverflowError, ValueError):
            raise UnreadableResponse(f"a UID over {MAX_UID}") from None
    if found and min(found) == 0:
        raise UnreadableResponse("UID 0")
    if any(later <= earlier for earlier, later in pairwise(found)):
        found = array("I", sorted(set(found)))
    return found


def expand_uid_set(uid_set: str, highest: int = MAX_UID, limit: int | None = None) -> list[int] | None:
    """The UIDs of a sequence set (`1:3,7`) up to `highest`; None when they are more than `limit`."""
    ranges: list[tuple[int, int]] = []
    count = 0
    for part in uid_set.split(","):
        first, _, last = part.partition(":")
        low, high = sorted(_number(end.encode(), "UID", 1, MAX_UID) for end in (first, last or first))
        if low <= highest:
            ranges.append((low, min(high, highest)))
            count += min(high, highest) - low + 1
    if limit is not None and count > limit:
        return None
    return [uid for low, high in ranges for uid in range(low, high + 1)]


def compress_uids(uids: Sequence[int]) -> str:
    """`1,2,3,7,9,10` -> `1:3,7,9:10`, so a command stays short."""
    ordered = sorted(set(uids))
    runs: list[str] = []
    start = previous = ordered[0]
    for uid in ordered[1:]:
        if uid != previous + 1:
            runs.append(f"{start}:{previous}" if previous != start else str(start))
            start = uid
        previous = uid
    runs.append(f"{start}:{previous}" if previous != start else str(start))
    return ",".join(runs)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


_COPYUID = re.compile(rb"\[COPYUID \d+ \d+ (\d+)\]", re.IGNORECASE)


def copied_uid(lines: Sequence[Line]) -> int | None:
    """The new UID of one copied or moved message, from a COPYUID response code (RFC 4315 section 3)."""
    for line in lines:
        if match := _COPYUID.search(bytes(line)):
            return int(match.group(1))
    return None
