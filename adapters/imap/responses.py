"""Reading aioimaplib's response lines: LIST, SELECT, FETCH, SEARCH and VANISHED (RFC 3501, RFC 7162)."""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

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
    uidvalidity: int = 0
    uidnext: int = 0
    exists: int = 0
    highest_modseq: int | None = None
    vanished: list[int] = field(default_factory=list)


def parse_select(lines: Sequence[Line]) -> SelectReport:
    report = SelectReport()
    for raw in lines:
        line = bytes(raw)
        for code, value in _CODE.findall(line):
            setattr(report, code.decode().lower().replace("highestmodseq", "highest_modseq"), int(value))
        if exists := _EXISTS.match(line):
            report.exists = int(exists[1])
        if vanished := _VANISHED.match(line):
            report.vanished.extend(expand_uid_set(vanished[1].decode()))
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
    item = FetchItem(uid=int(uid[1]))
    if flags := _FLAGS.search(line):
        item.flags = Flags.from_imap(flags[1].decode("utf-8", "replace").split())
    if date := _INTERNALDATE.search(line):
        item.internal_date = datetime.strptime(date[1].decode(), "%d-%b-%Y %H:%M:%S %z")
    if size := _SIZE.search(line):
        item.size = int(size[1])
    if modseq := _MODSEQ.search(line):
        item.modseq = int(modseq[1])
    return item


def flag_updates(lines: Sequence[Line]) -> list[FlagUpdate]:
    return [FlagUpdate(item.uid, item.flags, item.modseq) for item in parse_fetch(lines) if item.flags is not None]


def parse_search(lines: Sequence[Line]) -> list[int]:
    """UIDs of a SEARCH answer (the first line of numbers; ESEARCH is not asked for)."""
    for raw in lines:
        line = bytes(raw).strip()
        if line.replace(b" ", b"").isdigit():
            return [int(uid) for uid in line.split()]
    return []


def expand_uid_set(uid_set: str) -> list[int]:
    uids: list[int] = []
    for part in uid_set.split(","):
        first, _, last = part.partition(":")
        uids.extend(range(int(first), int(last or first) + 1))
    return uids


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
