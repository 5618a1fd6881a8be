"""A generated mailbox of a million messages for the search benchmark, loaded into Postgres with COPY.

Words follow a Zipf-like law over a made-up vocabulary (so some words are common, most rare, as in real mail);
bodies are made of sentences drawn from a pool, so two-word phrases recur. Deterministic (seeded)."""

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from uuid import UUID

import asyncpg

from domain.ids import new_id

SYLLABLES = ("ka ri to me sa lu no vi de pa zo ne mi ta ro su ki la fe bo gu ha ji ze wo").split()  # noqa: SIM905
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730


@dataclass(frozen=True)
class Corpus:
    vocabulary: list[str]
    sentences: list[str]
    senders: list[str]

    def word(self, rank: int) -> str:
        return self.vocabulary[rank]


def make_corpus(seed: int = 20261125) -> Corpus:
    rng = random.Random(seed)
    vocabulary = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(30_000)})
    rng.shuffle(vocabulary)
    weights = list(accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    sentences = [" ".join(rng.choices(vocabulary, cum_weights=weights, k=rng.randint(6, 12))) for _ in range(50_000)]
    senders = [f"user{n}@sender{n % 97}.test" for n in range(2_000)]
    return Corpus(vocabulary, sentences, senders)


COLUMNS = [
    "id", "tenant_id", "account_id", "mailbox_id", "uid", "thread_id", "message_id", "subject", "sender",
    "recipients_to", "recipients_cc", "recipients_bcc", "reply_to", "date", "internal_date", "size", "seen",
    "flagged", "answered", "draft", "deleted", "keywords", "preview", "text_body", "attachments",
    "has_attachments", "references", "parse_warnings", "from_text", "to_text", "from_address", "created_at",
    "updated_at",
]  # fmt: skip


@dataclass(frozen=True)
class Mailbox:
    tenant_id: UUID
    account_id: UUID
    mailbox_id: UUID
    address: str


def rows(corpus: Corpus, mailboxes: Sequence[Mailbox], count: int, seed: int = 7) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    weights = list(accumulate(1 / (rank + 1) for rank in range(len(corpus.vocabulary))))
    now = datetime.now(UTC)
    uids = dict.fromkeys((m.mailbox_id for m in mailboxes), 0)
    empty = json.dumps([])
    for n in range(count):
        box = mailboxes[n % len(mailboxes)]
        uids[box.mailbox_id] += 1
        sender = rng.choice(corpus.senders)
        subject = " ".join(rng.choices(corpus.vocabulary, cum_weights=weights, k=rng.randint(3, 6)))
        body = ". ".join(rng.choices(corpus.sentences, k=rng.randint(3, 8)))
        when = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
        attached = rng.random() < 0.15
        attachments = [{"id": str(new_id()), "filename": "a.pdf", "content_type": "application/pdf", "size": 1000,
                        "content_id": None, "inline": False, "part": "2"}] if attached else []  # fmt: skip
        yield (
            new_id(), box.tenant_id, box.account_id, box.mailbox_id, uids[box.mailbox_id], new_id(),
            f"<{n}@bench.test>", subject, json.dumps([{"name": "", "address": sender}]),
            json.dumps([{"name": "", "address": box.address}]), empty, empty, empty, when, when,
            len(body) + 500, rng.random() < 0.7, rng.random() < 0.05, False, False, False, empty, body[:200], body,
            json.dumps(attachments), attached, empty, empty, sender, box.address, sender, now, now,
        )  # fmt: skip


async def load(connection: asyncpg.Connection, records: Iterator[tuple[object, ...]], batch: int = 50_000) -> int:
    loaded = 0
    while chunk := [record for _, record in zip(range(batch), records, strict=False)]:
        await connection.copy_records_to_table("messages", columns=COLUMNS, records=chunk)
        loaded += len(chunk)
    return loaded
