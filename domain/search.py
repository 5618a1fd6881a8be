"""What a client asks of its stored mail: filters, full-text words, and keyset pages over the answer."""

import base64
import binascii
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import UUID

from domain.errors import InvalidInput
from domain.pagination import MAX_PAGE_SIZE
from domain.validation import in_utc

T = TypeVar("T")

MAX_TEXT_CHARS = 1000
_MAX_CURSOR_LENGTH = 512
"""A cursor this API gives out is about 120 characters: anything much longer is not one of ours."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean_text(value: str | None) -> str | None:
    """A search string as the stores can take it: control characters (a NUL breaks Postgres text) become
    spaces, and it is cut at MAX_TEXT_CHARS. Nothing left means no condition."""
    if value is None:
        return None
    cleaned = _CONTROL.sub(" ", value).strip()[:MAX_TEXT_CHARS]
    return cleaned or None


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Conditions on a tenant's messages, all of which must hold. `text` is full text over subject, addresses and
    body text in web search syntax (words, "quoted phrases", OR, -excluded); with it, results come by relevance,
    without it newest first. `sender`, `recipient` and `subject` match parts of those fields, case-insensitively."""

    tenant_id: UUID
    account_id: UUID | None = None
    mailbox_id: UUID | None = None
    within_accounts: frozenset[UUID] | None = None
    """Only messages of these accounts: the ones a member reaches (domain.access); None for every account."""
    text: str | None = None
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None
    since: datetime | None = None
    before: datetime | None = None
    unread: bool | None = None
    flagged: bool | None = None
    has_attachments: bool | None = None

    def __post_init__(self) -> None:
        for name in ("text", "sender", "recipient", "subject"):
            object.__setattr__(self, name, clean_text(getattr(self, name)))
        for name in ("since", "before"):
            moment = getattr(self, name)
            if moment is not None:
                aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
                object.__setattr__(self, name, in_utc(name, aware))
        if self.since and self.before and self.since >= self.before:
            raise InvalidInput("since", "must be before `before`")

    @property
    def by_relevance(self) -> bool:
        return self.text is not None


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the sort key of its last item. Newest first sorts by (date received, id); by relevance,
    by (score, date received, id), so matches of equal score come newest first. Opaque to clients; a cursor from
    one ordering is refused by the other."""

    score: float | None
    date: datetime
    id: UUID

    def encode(self) -> str:
        body = [self.score, self.date.isoformat(), str(self.id)]
        return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, raw: str, by_relevance: bool) -> "Cursor":
        if len(raw) > _MAX_CURSOR_LENGTH:
            raise InvalidInput("cursor", "not a cursor this API gave out")
        try:
            score, date, id_ = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            cursor = cls(float(score) if score is not None else None, datetime.fromisoformat(date), UUID(id_))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
            raise InvalidInput("cursor", "not a cursor this API gave out") from None
        if cursor.date.tzinfo is None or (cursor.score is not None and not math.isfinite(cursor.score)):
            raise InvalidInput("cursor", "not a cursor this API gave out")
        try:
            cursor = cls(cursor.score, in_utc("cursor", cursor.date), cursor.id)
        except InvalidInput:
            raise InvalidInput("cursor", "not a cursor this API gave out") from None
        if (cursor.score is not None) != by_relevance:
            raise InvalidInput("cursor", "belongs to a search with another ordering")
        return cursor

    def key(self) -> tuple[float, datetime, UUID]:
        return (self.score or 0.0, self.date, self.id)


@dataclass(frozen=True, slots=True)
class PageAfter:
    """A keyset page request: up to `limit` items after `cursor`."""

    limit: int = 50
    cursor: Cursor | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE_SIZE}")


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    items: Sequence[T]
    next_cursor: Cursor | None


@dataclass(frozen=True, slots=True)
class TermGroup:
    """Phrases that must all appear (a word is a one-word phrase) and phrases that must not, lower-cased."""

    required: tuple[tuple[str, ...], ...]
    excluded: tuple[tuple[str, ...], ...]


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")  # letters and digits: "_" joins words as "." and "@" do


def words(text: str) -> list[str]:
    """The words of `text` as every store splits them: runs of letters and digits."""
    return _WORD.findall(text)


def parse_web_search(text: str) -> list[TermGroup]:
    """Web search syntax as Postgres's websearch_to_tsquery reads it, for the stores that have no such function:
    words and "quoted phrases" must all appear, a leading minus excludes one, OR separates alternatives.
    Punctuation splits words; a token with no word characters is dropped. Never fails."""
    groups: list[TermGroup] = []
    required: list[tuple[str, ...]] = []
    excluded: list[tuple[str, ...]] = []
    for match in _TOKEN.finditer(text):
        negated, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None and bare.lower() == "or":
            if required or excluded:
                groups.append(TermGroup(tuple(required), tuple(excluded)))
            required, excluded = [], []
            continue
        if bare is not None and bare.startswith("-"):
            negated, bare = "-", bare[1:]
        words = tuple(w.lower() for w in _WORD.findall(phrase if phrase is not None else bare or ""))
        if words:
            (excluded if negated else required).append(words)
    if required or excluded:
        groups.append(TermGroup(tuple(required), tuple(excluded)))
    return groups


def required_phrases(text: str) -> list[str]:
    """The text of each "quoted phrase" of two words or more that every result must contain, as written; none
    when the search has alternatives (OR), as then no one phrase is required of every result."""
    if len(parse_web_search(text)) > 1:
        return []
    return [
        match.group(2)
        for match in _TOKEN.finditer(text)
        if match.group(2) is not None and not match.group(1) and len(_WORD.findall(match.group(2))) > 1
    ]
