"""Message lists and search: the same answers from SQLite (FTS5), Postgres (tsvector) and the in-memory fake."""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.persistence.database import create_session_factory
from adapters.persistence.message_search import SearchTuning
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.system_clock import SystemClock
from application.messages.search_index import CatchUpSearchIndex
from domain.ids import new_id
from domain.mailboxes import Mailbox, MailboxRole, SyncState
from domain.messages import (
    SUMMARY_ADDRESSES,
    SUMMARY_NAME_CHARS,
    SUMMARY_SUBJECT_CHARS,
    Address,
    Attachment,
    Flags,
    Message,
    summary_of,
)
from domain.ports.persistence import UnitOfWork
from domain.search import KeysetPage, MessageQuery, PageAfter
from tests.integration.conftest import migrated_engine
from tests.integration.test_mail_store_contract import folder
from tests.integration.test_persistence_contract import account, store, tenant

Factory = Callable[[], UnitOfWork]
TunedFactory = Callable[[SearchTuning], Factory]
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

# label: (subject, from, to, body, seen, flagged, attachment, day)
CORPUS: dict[str, tuple[str, str, str, str, bool, bool, bool, int]] = {
    "report": (
        "Quarterly report",
        "Zoë Müller <zoe@example.org>",
        "bob@example.com",
        "numbers inside",
        True,
        False,
        True,
        0,
    ),
    "reply": (
        "Re: Quarterly report",
        "bob@example.com",
        "zoe@example.org",
        "thanks for the report",
        False,
        False,
        False,
        1,
    ),
    "invoice": ("Invoice 42", "billing@shop.test", "bob@example.com", "please pay the invoice", False, True, True, 2),
    "cafe": (
        "Café meeting",
        "José Álvarez <jose@example.es>",
        "bob@example.com",
        "déjà vu at the café",
        True,
        True,
        False,
        3,
    ),
    "japanese": (
        "会議の予定",
        "田中 太郎 <tanaka@example.jp>",
        "bob@example.com",
        "明日 会議 です",
        False,
        False,
        False,
        4,
    ),
    "russian": ("Отчёт за март", "alexey@example.ru", "bob@example.com", "годовой отчёт готов", True, False, True, 5),
    "spam": ("Cheap report generator", "spam@junk.test", "bob@example.com", "buy now buy now", False, False, False, 6),
    "plan": (
        "Budget plan",
        "carol@example.com",
        "Bob <bob@example.com>",
        "the plan for the quarterly budget",
        True,
        False,
        False,
        7,
    ),
}


async def seeded(make_uow: Factory) -> tuple[Mailbox, Mailbox, dict[str, Message]]:
    inbox = await folder(make_uow)
    archive = Mailbox(
        new_id(), inbox.tenant_id, inbox.account_id, "Archive", "/", MailboxRole.ARCHIVE, SyncState(8, 0, None)
    )
    messages: dict[str, Message] = {}
    for uid, (label, row) in enumerate(CORPUS.items(), start=1):
        box = archive if label in ("plan", "russian") else inbox
        messages[label] = make_message(box, uid, *row)
    async with make_uow() as uow:
        await uow.mailboxes.add(archive)
        await uow.message_store.add_many([m for m in messages.values() if m.mailbox_id == inbox.id])
        await uow.message_store.add_many([m for m in messages.values() if m.mailbox_id == archive.id])
        await uow.commit()
    await other_tenants_copy(make_uow, messages["report"])
    return inbox, archive, messages


def make_message(
    box: Mailbox,
    uid: int,
    subject: str,
    sender: str,
    to: str,
    body: str,
    seen: bool,
    flagged: bool,
    attached: bool,
    day: int,
) -> Message:
    return Message(
        id=new_id(),
        tenant_id=box.tenant_id,
        account_id=box.account_id,
        mailbox_id=box.id,
        uid=uid,
        thread_id=new_id(),
        message_id=f"<{uid}@example.com>",
        subject=subject,
        sender=[address(sender)],
        to=[address(to)],
        date=START + timedelta(days=day),
        internal_date=START + timedelta(days=day),
        size=1000 + uid,
        flags=Flags(seen=seen, flagged=flagged),
        preview=body[:20],
        text_body=body,
        attachments=[Attachment(new_id(), "a.pdf", "application/pdf", 10, None, False, "2")] if attached else [],
    )


def address(text: str) -> Address:
    name, _, rest = text.rpartition(" <")
    return Address(name, rest.rstrip(">")) if rest.endswith(">") else Address("", text)


async def other_tenants_copy(make_uow: Factory, original: Message) -> None:
    globex = await tenant(make_uow, "globex")
    owner = account(globex)
    await store(make_uow, owner)
    box = Mailbox(new_id(), globex.id, owner.id, "INBOX", "/", MailboxRole.INBOX, SyncState(1, 0, None))
    async with make_uow() as uow:
        await uow.mailboxes.add(box)
        await uow.message_store.add_many(
            [replace(original, id=new_id(), tenant_id=globex.id, account_id=owner.id, mailbox_id=box.id)]
        )
        await uow.commit()


async def labels(make_uow: Factory, messages: dict[str, Message], query: MessageQuery, limit: int = 50) -> list[str]:
    by_id = {m.id: label for label, m in messages.items()}
    async with make_uow() as uow:
        page = await uow.messages.search(query, PageAfter(limit))
    return [by_id[item.id] for item in page.items]


async def test_without_text_the_newest_come_first(make_uow: Factory) -> None:
    inbox, _, messages = await seeded(make_uow)
    everything = await labels(make_uow, messages, MessageQuery(inbox.tenant_id))
    assert everything == list(reversed(CORPUS))


async def test_a_listed_found_or_threaded_message_shows_what_was_stored(make_uow: Factory) -> None:
    inbox, _, messages = await seeded(make_uow)
    tagged = replace(
        make_message(inbox, 99, *CORPUS["cafe"]),
        to=[Address("Bob", "bob@example.com"), Address("Zoë Müller", "zoe@example.org")],
        flags=Flags(seen=True, answered=True, keywords=frozenset({"$Label1", "Arbeit"})),
    )
    async with make_uow() as uow:
        await uow.message_store.add_many([tagged])
        await uow.commit()
    async with make_uow() as uow:
        listed = await uow.messages.search(MessageQuery(inbox.tenant_id, account_id=inbox.account_id), PageAfter(50))
        found = await uow.messages.search(MessageQuery(inbox.tenant_id, text="déjà"), PageAfter(50))
        threaded = await uow.messages.thread(inbox.tenant_id, tagged.thread_id)
    for summaries in (listed.items, found.items, threaded):
        assert next(s for s in summaries if s.id == tagged.id) == summary_of(tagged)
    report = messages["report"]
    assert next(s for s in listed.items if s.id == report.id) == summary_of(report)


async def test_summaries_are_bounded_whatever_the_headers_hold(make_uow: Factory) -> None:
    inbox, _, _ = await seeded(make_uow)
    crowd = [Address("n" * 1000, f"r{i}@example.com") for i in range(SUMMARY_ADDRESSES + 5)]
    huge = replace(make_message(inbox, 98, *CORPUS["cafe"]), subject="s" * 100_000, to=crowd)
    async with make_uow() as uow:
        await uow.message_store.add_many([huge])
        await uow.commit()
    async with make_uow() as uow:
        listed = await uow.messages.search(MessageQuery(inbox.tenant_id, account_id=inbox.account_id), PageAfter(50))
        stored = await uow.messages.get(inbox.tenant_id, huge.id)
    summary = next(s for s in listed.items if s.id == huge.id)
    assert (len(summary.subject), len(summary.to), summary.to_total) == (
        SUMMARY_SUBJECT_CHARS,
        SUMMARY_ADDRESSES,
        SUMMARY_ADDRESSES + 5,
    )
    assert all(len(a.name) == SUMMARY_NAME_CHARS for a in summary.to)
    assert stored is not None
    assert (stored.subject, stored.to) == (huge.subject, crowd)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"text": "report"}, {"report", "reply", "spam"}),
        ({"text": "quarterly report"}, {"report", "reply"}),
        ({"text": '"quarterly budget"'}, {"plan"}),
        ({"text": "report -spam"}, {"report", "reply"}),
        ({"text": "invoice OR budget"}, {"invoice", "plan"}),
        ({"text": "café"}, {"cafe"}),
        ({"text": "会議"}, {"japanese"}),
        ({"text": "отчёт"}, {"russian"}),
        ({"text": "zoe"}, {"report", "reply"}),
        ({"text": "zoe@example.org"}, {"report", "reply"}),
        ({"text": "junk.test"}, {"spam"}),
        ({"sender": "zoë"}, {"report"}),
        ({"sender": "@EXAMPLE.ES"}, {"cafe"}),
        ({"recipient": "zoe@example"}, {"reply"}),
        ({"subject": "quarterly"}, {"report", "reply"}),
        ({"subject": "q_arterly"}, set()),  # `_` and `%` are themselves, not LIKE's wildcards
        ({"sender": "%"}, set()),
        ({"unread": True}, {"reply", "invoice", "japanese", "spam"}),
        ({"unread": False}, {"report", "cafe", "russian", "plan"}),
        ({"flagged": True}, {"invoice", "cafe"}),
        ({"has_attachments": True}, {"report", "invoice", "russian"}),
        ({"since": START + timedelta(days=6)}, {"spam", "plan"}),
        ({"before": START + timedelta(days=1)}, {"report"}),
        ({"since": START + timedelta(days=1), "before": START + timedelta(days=3)}, {"reply", "invoice"}),
        ({"text": "report", "unread": True}, {"reply", "spam"}),
        ({"text": "report", "has_attachments": True, "sender": "zoe"}, {"report"}),
        ({"flagged": True, "unread": True, "subject": "invoice"}, {"invoice"}),
        ({"text": "nothing-like-this"}, set()),
    ],
)
async def test_each_filter_alone_and_combined(
    make_uow: Factory, conditions: dict[str, Any], expected: set[str]
) -> None:
    inbox, _, messages = await seeded(make_uow)
    assert set(await labels(make_uow, messages, MessageQuery(inbox.tenant_id, **conditions))) == expected


async def test_account_and_folder_filters(make_uow: Factory) -> None:
    inbox, archive, messages = await seeded(make_uow)
    in_archive = MessageQuery(inbox.tenant_id, account_id=inbox.account_id, mailbox_id=archive.id)
    assert await labels(make_uow, messages, in_archive) == ["plan", "russian"]
    assert await labels(make_uow, messages, MessageQuery(inbox.tenant_id, account_id=new_id())) == []


async def test_another_tenants_mail_is_never_found(make_uow: Factory) -> None:
    inbox, _, messages = await seeded(make_uow)
    found = await labels(make_uow, messages, MessageQuery(inbox.tenant_id, text="numbers"))
    assert found == ["report"], "the other tenant's copy of the report is not among them"


async def test_subject_matches_rank_above_body_matches(make_uow: Factory) -> None:
    inbox, _, messages = await seeded(make_uow)
    ranked = await labels(make_uow, messages, MessageQuery(inbox.tenant_id, text="quarterly"))
    assert set(ranked[:2]) == {"report", "reply"}
    assert ranked[2:] == ["plan"]


async def test_a_search_of_exclusions_alone_pages_through_everything_else(
    make_uow: Factory, request: pytest.FixtureRequest
) -> None:
    inbox, _, messages = await seeded(make_uow)
    query = MessageQuery(inbox.tenant_id, text="-generator")
    whole = await labels(make_uow, messages, query)
    expected = set() if "sqlite" in request.node.name else set(CORPUS) - {"spam"}
    assert set(whole) == expected, "FTS5 cannot express a search of exclusions alone (documented)"
    seen: list[UUID] = []
    page: KeysetPage[Any] = KeysetPage([], None)
    async with make_uow() as uow:
        for _ in range(20):
            page = await uow.messages.search(query, PageAfter(3, page.next_cursor))
            seen.extend(item.id for item in page.items)
            if page.next_cursor is None:
                break
    assert sorted(seen) == sorted(messages[label].id for label in whole)


@pytest.mark.parametrize("text", [None, "report OR budget OR café OR invoice"])
@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_pages_cover_every_result_exactly_once(make_uow: Factory, text: str | None, limit: int) -> None:
    inbox, _, messages = await seeded(make_uow)
    query = MessageQuery(inbox.tenant_id, text=text)
    whole = await labels(make_uow, messages, query)
    seen: list[UUID] = []
    page: KeysetPage[Any] = KeysetPage([], None)
    async with make_uow() as uow:
        for _ in range(20):
            page = await uow.messages.search(query, PageAfter(limit, page.next_cursor))
            seen.extend(item.id for item in page.items)
            if page.next_cursor is None:
                break
    by_id = {m.id: label for label, m in messages.items()}
    assert [by_id[i] for i in seen] == whole
    assert len(whole) >= 4


HOSTILE = [
    "'; DROP TABLE messages; --",
    "' OR 1=1 --",
    '"',
    '"""',
    "a\"b'c",
    "-",
    "!!! ??? ***",
    "OR",
    "AND NOT NEAR(",
    "report\x00\x01\x1f",
    "x" * 10_000,
    "report " * 2_000,
    "🙂 📧 report",
    "\u202e\u200b",
    "$1 :name %s ? {} []",
    "col:value subject:report ^report report*",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
async def test_any_text_gives_results_or_none_never_an_error(make_uow: Factory, text: str) -> None:
    inbox, _, messages = await seeded(make_uow)
    found = await labels(make_uow, messages, MessageQuery(inbox.tenant_id, text=text))
    assert set(found) <= set(CORPUS)
    assert set(await labels(make_uow, messages, MessageQuery(inbox.tenant_id, sender=text, subject=text))) <= {"report"}
    async with make_uow() as uow:
        assert await uow.messages.get(inbox.tenant_id, messages["report"].id) is not None, "nothing was dropped"


async def test_a_message_is_read_changed_moved_and_removed_within_its_tenant(make_uow: Factory) -> None:
    inbox, archive, messages = await seeded(make_uow)
    report = messages["report"]
    async with make_uow() as uow:
        assert await uow.messages.get(new_id(), report.id) is None
        assert await uow.mailboxes.get(new_id(), archive.id) is None
        assert await uow.message_store.stored_uids(inbox.id, 1, 3) == {1, 2, 3}
        await uow.message_store.set_flags(inbox.tenant_id, report.id, Flags(seen=False, flagged=True))
        await uow.message_store.relocate(inbox.tenant_id, report.id, archive.id, 99)
        await uow.message_store.remove(inbox.tenant_id, messages["spam"].id)
        await uow.commit()
    async with make_uow() as uow:
        moved = await uow.messages.get(inbox.tenant_id, report.id)
        assert moved is not None
        assert (moved.mailbox_id, moved.uid, moved.flags.seen, moved.flags.flagged) == (archive.id, 99, False, True)
        assert await uow.messages.get(inbox.tenant_id, messages["spam"].id) is None
        assert await uow.mailboxes.get(inbox.tenant_id, archive.id) == archive
    assert await labels(make_uow, messages, MessageQuery(inbox.tenant_id, text="numbers", mailbox_id=archive.id)) == [
        "report"
    ]
    assert await labels(make_uow, messages, MessageQuery(inbox.tenant_id, text="generator")) == []


async def test_a_thread_comes_oldest_first(make_uow: Factory) -> None:
    inbox, _, messages = await seeded(make_uow)
    thread_id = messages["report"].thread_id
    async with make_uow() as uow:
        await uow.message_store.add_many([replace(messages["reply"], id=new_id(), uid=50, thread_id=thread_id)])
        await uow.commit()
    async with make_uow() as uow:
        thread = await uow.messages.thread(inbox.tenant_id, thread_id)
        assert [m.subject for m in thread] == ["Quarterly report", "Re: Quarterly report"]
        assert await uow.messages.thread(new_id(), thread_id) == []


@pytest.fixture(params=["sqlite", "postgres", "memory"])
async def make_tuned_uow(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TunedFactory]:
    """As `make_uow`, one database of each kind (and the fake), its units of work searching with the tuning given
    (which the other stores ignore)."""
    if request.param == "memory":
        fake = MemoryUnitOfWork()
        yield lambda _tuning: lambda: MemoryUnitOfWork(fake.store)
        return
    async with migrated_engine(request.param, request, tmp_path) as engine:
        factory = create_session_factory(engine)
        yield lambda tuning: lambda: SqlUnitOfWork(factory, search_tuning=tuning)


async def test_dense_and_sparse_matches_are_all_found_in_order(
    make_tuned_uow: TunedFactory, request: pytest.FixtureRequest
) -> None:
    """Postgres looks for matches among a window of the newest messages, widens it when they are dense, then
    reads the index's matches among the newest `recent_span`, and all of them when those are too few; a phrase's
    body matches come from the word pairs of the
    messages indexed so far plus every message still waiting, or, while too many wait, from the word index.
    Tiny windows (and no estimate short-cut) here take every one of those paths, before, during and after the
    deferred indexing (the other stores ignore all this). Whatever the path, pages hold every match once:
    subject matches first, then the body-only ones, each newest first where the store orders by date."""
    tiny = SearchTuning(recent_window=4, widest_window=16, recent_span=30, few_candidates=0)
    make_uow = make_tuned_uow(tiny)
    inbox = await folder(make_uow)
    bodies = dict.fromkeys(range(60), "filler words only")
    for day in range(0, 60, 3):
        bodies[day] = "the dense word and the lone phrase" if day < 6 else "the dense word"
    for day in range(0, 60, 20):
        bodies[day] += " and a sparse one"
    bodies[33] = "the lone and a phrase: both words, not the phrase"
    bodies[50] += ", weekly sparse"
    subjects = {day: "Weekly sparse notes" if day in (1, 40) else f"Note {day}" for day in range(60)}
    messages = {
        f"day{day}": make_message(inbox, day + 1, subjects[day], "a@example.org", "b@example.org", body, True,
                                  False, False, day)
        for day, body in bodies.items()
    }  # fmt: skip
    async with make_uow() as uow:
        await uow.message_store.add_many(list(messages.values()))
        await uow.commit()
    by_id = {m.id: label for label, m in messages.items()}
    newest_first = [f"day{day}" for day in reversed(range(60))]
    expected = [
        ("dense", [], [d for d in newest_first if "dense" in bodies[int(d[3:])]]),
        ("sparse", ["day40", "day1"], ["day50", "day40", "day20", "day0"]),
        ('"weekly sparse"', ["day40", "day1"], ["day50"]),
        ('"lone phrase"', [], ["day3", "day0"]),
        ('"lone phrase" dense', [], ["day3", "day0"]),
    ]

    async def every_page(tuning: SearchTuning, text: str, before: datetime | None = None) -> list[str]:
        seen: list[str] = []
        page: KeysetPage[Any] = KeysetPage([], None)
        async with make_tuned_uow(tuning)() as uow:
            for _ in range(40):
                page = await uow.messages.search(
                    MessageQuery(inbox.tenant_id, text=text, before=before), PageAfter(3, page.next_cursor)
                )
                seen += [by_id[item.id] for item in page.items]
                if page.next_cursor is None:
                    return seen
        raise AssertionError(f"{text}: more pages than matches")

    async def all_found(state: str, tuning: SearchTuning = tiny) -> None:
        for windows in (True, False):  # windows tried first, or skipped as too sparse to fill a page
            await all_found_once(f"{state}, windows {windows}", replace(tuning, try_windows=windows))

    async def all_found_once(state: str, tuning: SearchTuning) -> None:
        for text, in_subject, in_body in expected:
            seen = await every_page(tuning, text)
            body_only = [d for d in in_body if d not in in_subject]
            assert sorted(seen) == sorted(in_subject + body_only), (state, text)
            assert sorted(seen[: len(in_subject)]) == sorted(in_subject), (state, text)
            if request.node.callspec.params["make_tuned_uow"] == "postgres":
                assert seen == in_subject + body_only, (state, text)
        before = START + timedelta(days=30)  # ends before the newest messages, whose span is then not read
        older = [d for d in newest_first if "dense" in bodies[int(d[3:])] and int(d[3:]) < 30]
        assert sorted(await every_page(tuning, "dense", before)) == sorted(older), state

    await all_found("all waiting for their word pairs")
    await all_found("too many waiting: the word index", replace(tiny, most_pending=0))
    await CatchUpSearchIndex(make_uow(), SystemClock(), batch=25)()
    await all_found("all indexed")
    copy = replace(messages["day3"], id=new_id(), uid=99, internal_date=START + timedelta(days=70))
    async with make_uow() as uow:
        await uow.message_store.add_many([copy])
        await uow.commit()
    by_id[copy.id] = "copy"
    expected = [(text, in_subject, ["copy", *in_body] if "dense" in text or "lone" in text else in_body)
                for text, in_subject, in_body in expected]  # fmt: skip
    await all_found("one waiting among the indexed")


async def test_the_deferred_search_index_catches_up_in_batches_and_keeps_tenants_apart(
    make_uow: Factory, request: pytest.FixtureRequest
) -> None:
    """Postgres defers the word pairs of synced messages to a scheduled job; two runs at once share the work.
    The other stores defer nothing. Phrase search finds the same messages before and after."""
    inbox, _, messages = await seeded(make_uow)
    phrase = MessageQuery(inbox.tenant_id, text='"the report"')
    before = await labels(make_uow, messages, phrase)

    done = await asyncio.gather(
        CatchUpSearchIndex(make_uow(), SystemClock(), batch=2)(),
        CatchUpSearchIndex(make_uow(), SystemClock(), batch=2)(),
    )

    stored = len(messages) + 1  # and the other tenant's copy of the report
    assert sum(done) == (stored if request.node.callspec.params["make_uow"] == "postgres" else 0)
    assert await CatchUpSearchIndex(make_uow(), SystemClock())() == 0
    assert before == ["reply"]
    assert await labels(make_uow, messages, phrase) == before
    assert await labels(make_uow, messages, MessageQuery(inbox.tenant_id, text='"pay the invoice"')) == ["invoice"]


TRICKY_SUBJECTS = {
    "hyphen": "Re: the-quick brown fox",
    "path": "notes on /usr/local bin",
    "address": "from zoe@example.org report",
    "apostrophe": "it's done now",
    "tag": "<b>bold</b> claim here",
    "plain": "quick brown dog",
}
TRICKY_PHRASES = [
    '"quick brown"',
    '"the-quick brown"',
    '"brown fox"',
    '"local bin"',
    '"/usr/local bin"',
    '"example org report"',
    '"zoe example"',
    '"it\'s done"',
    '"s done"',
    '"bold claim"',
    '"b bold"',
    '"claim here" -dog',
]


async def test_a_phrase_finds_the_same_subjects_with_or_without_the_word_pair_index(
    make_tuned_uow: TunedFactory,
) -> None:
    """Postgres narrows subject matches of a phrase by an index of adjacent word pairs; it must never lose one,
    however the text is split (hyphens, paths, addresses, apostrophes, tags). The other stores answer alike."""
    make_uow = make_tuned_uow(SearchTuning())
    inbox = await folder(make_uow)
    messages = {
        label: make_message(inbox, uid, subject, "a@example.org", "b@example.org", "body", True, False, False, uid)
        for uid, (label, subject) in enumerate(TRICKY_SUBJECTS.items(), start=1)
    }
    async with make_uow() as uow:
        await uow.message_store.add_many(list(messages.values()))
        await uow.commit()
    with_pairs = {p: await labels(make_uow, messages, MessageQuery(inbox.tenant_id, text=p)) for p in TRICKY_PHRASES}
    without_pairs = make_tuned_uow(SearchTuning(phrase_pairs=False))
    without = {p: await labels(without_pairs, messages, MessageQuery(inbox.tenant_id, text=p)) for p in TRICKY_PHRASES}
    assert with_pairs == without
    assert sorted(with_pairs['"quick brown"']) == ["hyphen", "plain"]
    assert with_pairs['"claim here" -dog'] == ["tag"]


@pytest.mark.parametrize(
    "text", ["alice", "smith", "builds", "release", "notes", "patch", "release_notes", "alice.smith@builds.example"]
)
async def test_words_joined_by_address_and_path_punctuation_in_a_body_are_found_apart(
    make_uow: Factory, text: str
) -> None:
    inbox = await folder(make_uow)
    body = "ask alice.smith@builds.example about release_notes for v1.2+patch"
    note = make_message(inbox, 1, "Build", "a@example.org", "b@example.org", body, True, False, False, 1)
    other = make_message(inbox, 2, "Other", "a@example.org", "b@example.org", "nothing here", True, False, False, 2)
    async with make_uow() as uow:
        await uow.message_store.add_many([note, other])
        await uow.commit()
    found = await labels(make_uow, {"note": note, "other": other}, MessageQuery(inbox.tenant_id, text=text))
    assert found == ["note"]
