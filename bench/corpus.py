"""A generated mail corpus: plain and HTML, 15% with attachments up to 200 KB, non-ASCII names and subjects.
Deterministic (seeded), written straight into a Maildir so filling 20,000 messages takes seconds, not minutes."""

import os
import pwd
import random
import shutil
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

NAMES = ["Zoë Müller", "José Álvarez", "田中 太郎", "Алексей Иванов", "Siobhán Ó Ceallaigh", "Alice Smith"]
WORDS = [
    "mail",
    "quarterly",
    "report",
    "déjà",
    "vu",
    "naïve",
    "café",
    "invoice",
    "résumé",
    "meeting",
    "Überblick",
    "会議",
    "отчёт",
    "budget",
    "plan",
]


def message(rng: random.Random, n: int, target_size: int) -> bytes:
    mail = EmailMessage()
    name = rng.choice(NAMES)
    mail["From"] = f"{name} <user{n % 500}@example.org>"
    mail["To"] = "Bench <bench@example.test>"
    mail["Subject"] = " ".join(rng.choice(WORDS) for _ in range(6)) + f" #{n}"
    mail["Date"] = format_datetime(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
    mail["Message-ID"] = f"<bench-{n}@example.org>"
    if n % 7 and n > 10:
        mail["In-Reply-To"] = mail["References"] = f"<bench-{n - rng.randint(1, 10)}@example.org>"
    paragraphs = []
    while sum(map(len, paragraphs)) < target_size:
        paragraphs.append(" ".join(rng.choice(WORDS) for _ in range(60)))
    text = "\n\n".join(paragraphs)
    mail.set_content(text)
    if n % 2:
        mail.add_alternative("<html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>", "html")
    if rng.random() < 0.15:
        size = rng.randint(10_000, 200_000)
        mail.add_attachment(
            rng.randbytes(size), maintype="application", subtype="octet-stream", filename=f"Anhang-{n}-Übersicht.bin"
        )
    return mail.as_bytes()


def fill_maildir(maildir: Path, count: int, seed: int = 20261124) -> int:
    """Replaces the Maildir's INBOX with `count` messages; returns the bytes written."""
    rng = random.Random(seed)
    shutil.rmtree(maildir, ignore_errors=True)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    total, now = 0, int(time.time())
    for n in range(count):
        raw = message(rng, n, target_size=rng.randint(1_000, 9_000)).replace(b"\n", b"\r\n")
        seen = "S" if rng.random() < 0.7 else ""
        (maildir / "cur" / f"{now}.M{n}P1.bench:2,{seen}").write_bytes(raw)
        total += len(raw)
    vmail = pwd.getpwnam("vmail")
    for path in [maildir.parent, maildir, *maildir.rglob("*")]:
        os.chown(path, vmail.pw_uid, vmail.pw_gid)
    return total
