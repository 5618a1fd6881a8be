"""The fake's search: the same conditions, orderings and cursors as the SQL stores, over Python objects."""

from collections.abc import Iterable

from domain.messages import Address, Message, MessageSummary, summary_of
from domain.search import Cursor, KeysetPage, MessageQuery, PageAfter, TermGroup, parse_web_search, words


def search(messages: Iterable[Message], query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
    groups = parse_web_search(query.text) if query.text else []
    scored: list[tuple[float, Message]] = []
    for message in messages:
        if not _matches(message, query):
            continue
        if query.text is None:
            scored.append((0.0, message))
        elif (score := _score(message, groups)) > 0:
            scored.append((score, message))
    scored.sort(key=lambda item: (item[0], item[1].internal_date, item[1].id), reverse=True)
    if page.cursor is not None:
        after = page.cursor.key()
        scored = [(s, m) for s, m in scored if (s, m.internal_date, m.id) < after]
    chosen = scored[: page.limit]
    next_cursor = None
    if len(scored) > page.limit:
        score, last = chosen[-1]
        next_cursor = Cursor(score if query.by_relevance else None, last.internal_date, last.id)
    return KeysetPage([summary_of(m) for _, m in chosen], next_cursor)


def _matches(message: Message, query: MessageQuery) -> bool:
    checks = [
        query.account_id is None or message.account_id == query.account_id,
        query.within_accounts is None or message.account_id in query.within_accounts,
        query.mailbox_id is None or message.mailbox_id == query.mailbox_id,
        query.unread is None or message.flags.seen != query.unread,
        query.flagged is None or message.flags.flagged == query.flagged,
        query.has_attachments is None or bool(message.attachments) == query.has_attachments,
        query.since is None or message.internal_date >= query.since,
        query.before is None or message.internal_date < query.before,
        query.sender is None or query.sender.lower() in _addresses(message.sender),
        query.recipient is None or query.recipient.lower() in _addresses([*message.to, *message.cc, *message.bcc]),
        query.subject is None or query.subject.lower() in message.subject.lower(),
    ]
    return message.tenant_id == query.tenant_id and all(checks)


def _addresses(addresses: Iterable[Address]) -> str:
    return " ".join(f"{a.name} {a.address}" for a in addresses).lower()


def _score(message: Message, groups: list[TermGroup]) -> float:
    """Above 0 for a match: 1 for the body alone, more for occurrences in the subject (10 each) and the addresses
    (5 each), as the SQL stores rank their headline text; 0 when no alternative matches. An alternative of
    exclusions alone matches what has none of them, as on Postgres."""
    addresses = _addresses([*message.sender, *message.to, *message.cc, *message.bcc])
    fields = [(message.subject, 10.0), (addresses, 5.0), (message.text_body or "", 1.0)]
    texts = [(" " + " ".join(words(text.lower())) + " ", weight) for text, weight in fields]
    document = " ".join(text for text, _ in texts)
    best = 0.0
    for group in groups:
        if any(_contains(document, p) for p in group.excluded):
            continue
        if all(_contains(document, p) for p in group.required):
            headline = sum(w * t.count(f" {' '.join(p)} ") for p in group.required for t, w in texts[:2])
            best = max(best, 1.0 + headline)
    return best


def _contains(document: str, phrase: tuple[str, ...]) -> bool:
    return f" {' '.join(phrase)} " in document
