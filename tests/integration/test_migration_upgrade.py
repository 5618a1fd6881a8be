"""A database written by the first releases, upgraded to head by `mailroom migrate`, is still the user's mail.

Each table is filled with plain SQL at the revision that created it, as the code of that time wrote its rows:
tenants, users and mail accounts at 0001 (passwords sealed with the key id alone as associated data, before
secrets were bound to their account), folders and messages at 0002 (raw messages under bare SHA-256 blob keys,
before keys named their tenant), and a draft at 0006. Every later migration then runs over that data.
"""

import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.crypto.keyring import Keyring
from adapters.crypto.scrypt_hasher import ScryptPasswordHasher
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.migrations import current_revision, head_revision, upgrade
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from domain.errors import DependencyUnavailable
from domain.ids import new_id
from entrypoints.http.app import create_app
from entrypoints.operations import migrate, rotate_keys
from entrypoints.settings import Settings, load_settings
from tests.conftest import require_service
from tests.integration.conftest import run_sql

PASSWORD = "correct-horse-battery"
IMAP_PASSWORD = "imap-secret-2026"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RAW = (
    b"From: Carol Jones <carol@example.org>\r\nTo: Ada <ada@acme.test>\r\nSubject: Quarterly budget\r\n"
    b"Message-ID: <q3@example.org>\r\n\r\nPlease bring the budget review notes on Thursday.\r\n"
)
TABLES = ("tenants", "users", "mail_accounts", "mailboxes", "messages", "account_syncs", "drafts")

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_TIME = DateTimeUTC(timezone=True)


def _table(
    name: str, *columns: str, guids: tuple[str, ...] = (), times: tuple[str, ...] = (), json: tuple[str, ...] = ()
) -> sa.TableClause:
    """A table as an old revision had it: only the columns named, typed so each database stores them its way."""
    typed: list[sa.ColumnClause[Any]] = [sa.column(c, GUID(length=16)) for c in ("id", "tenant_id", *guids)]
    typed += [sa.column(c, _TIME) for c in ("created_at", "updated_at", *times)]
    typed += [sa.column(c, _JSON) for c in json]
    return sa.table(name, *typed, *(sa.column(c) for c in columns))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database; on Postgres a fresh one owned by a role that is no superuser (as in production), so
    row-level security binds the migrations that move existing rows."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'mailroom.db'}"
        return
    admin_url = require_service(
        "postgres", "MAILROOM_TEST_POSTGRES_URL", "e.g. postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name, password = f"mailroom_upgrade_{uuid4().hex[:12]}", secrets.token_hex(16)
    run_sql(admin_url, f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' NOSUPERUSER NOBYPASSRLS")
    run_sql(admin_url, f'CREATE DATABASE "{name}" OWNER "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name, username=name, password=password)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        run_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        run_sql(admin_url, f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The key the old rows were sealed with stays configured, as an operator's upgrade keeps it."""
    return load_settings(
        {
            "MAILROOM_DATA_DIR": str(tmp_path),
            "MAILROOM_DATABASE_URL": database_url,
            "MAILROOM_ENCRYPTION_KEYS": Keyring.generate_entry("k2026"),
            "MAILROOM_IDLE_ENABLED": "false",
        }
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


class Old:
    """Ids of the rows written by the old revisions."""

    tenant, admin, member, account, inbox, sent, draft = (new_id() for _ in range(7))
    budget, lunch, reply = (new_id() for _ in range(3))


def _sealed_as_at_0001(keyring: Keyring, plaintext: str) -> dict[str, Any]:
    """AES-GCM under the current key, the key id alone as associated data: the cipher of revision 0001."""
    key_id, nonce = keyring.current_key_id, os.urandom(12)
    sealed = AESGCM(keyring.keys[key_id]).encrypt(nonce, plaintext.encode(), key_id.encode())
    return {"password_key_id": key_id, "password_ciphertext": nonce + sealed}


async def _in_scope(connection: AsyncConnection) -> None:
    """Past row-level security (Postgres), as the migrations that move rows do."""
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.text("SELECT set_config('app.tenant_id', '*', true)"))


async def _write_0001(engine: AsyncEngine, keyring: Keyring) -> None:
    users = _table("users", "email", "password_hash", "role")
    accounts = _table("mail_accounts", "name", "email", *(
        f"{side}_{field}" for side in ("imap", "smtp")
        for field in ("host", "port", "security", "username", "password_key_id", "password_ciphertext")
    ))  # fmt: skip
    hasher = ScryptPasswordHasher()
    async with engine.begin() as connection:
        stamps = {"created_at": T0, "updated_at": T0}
        tenant = {"id": Old.tenant, "slug": "acme", "name": "Acme"}
        await connection.execute(_table("tenants", "slug", "name").insert().values(**tenant, **stamps))
        for user_id, email, role in ((Old.admin, "ada@acme.test", "admin"), (Old.member, "bob@acme.test", "member")):
            values = {"email": email, "password_hash": await hasher.hash(PASSWORD), "role": role}
            await connection.execute(users.insert().values(id=user_id, tenant_id=Old.tenant, **values, **stamps))
        server = {"host": "mail.acme.test", "security": "ssl", "username": "ada@acme.test"}
        sides = {
            f"{side}_{k}": v
            for side, port in (("imap", 993), ("smtp", 465))
            for k, v in (server | {"port": port} | _sealed_as_at_0001(keyring, IMAP_PASSWORD)).items()
        }
        await connection.execute(
            accounts.insert().values(
                id=Old.account, tenant_id=Old.tenant, name="Work", email="ada@acme.test", **sides, **stamps
            )
        )


def _message(
    mailbox_id: UUID, uid: int, subject: str, sender: tuple[str, str], body: str, **flags: Any
) -> dict[str, Any]:
    at = T0.replace(hour=10 + uid)
    return {
        "tenant_id": Old.tenant,
        "account_id": Old.account,
        "mailbox_id": mailbox_id,
        "uid": uid,
        "thread_id": new_id(),
        "message_id": f"<{uid}.{subject.split()[0].lower()}@example.org>",
        "subject": subject,
        "sender": [{"name": sender[0], "address": sender[1]}],
        "recipients_to": [{"name": "Ada", "address": "ada@acme.test"}],
        "recipients_cc": [],
        "recipients_bcc": [],
        "reply_to": [],
        "date": at,
        "internal_date": at,
        "size": len(body) + 200,
        "seen": flags.get("seen", False),
        "flagged": flags.get("flagged", False),
        "answered": False,
        "draft": False,
        "deleted": False,
        "keywords": flags.get("keywords", []),
        "modseq": None,
        "preview": body[:300],
        "text_body": body,
        "html_body": None,
        "attachments": [],
        "has_attachments": False,
        "raw_blob_key": flags.get("raw_blob_key"),
        "in_reply_to": None,
        "references": [],
        "parse_warnings": [],
        "created_at": at,
        "updated_at": at,
    }


async def _write_0002(engine: AsyncEngine, blob_root: Path) -> None:
    """The raw message under a bare SHA-256 key, in `blobs/ab/abcd...`: the layout keys had until they named
    their tenant, which the store still reads (the very first days' two-level folders were dropped before any
    release, commit f06eaf2)."""
    digest = hashlib.sha256(RAW).hexdigest()
    (blob_root / digest[:2]).mkdir(parents=True)
    (blob_root / digest[:2] / digest).write_bytes(RAW)
    mailboxes = _table(
        "mailboxes", "name", "delimiter", "role", "uidvalidity", "last_uid", "message_count", "unread_count",
        guids=("account_id",), times=("last_synced_at",),
    )  # fmt: skip
    json_columns = ("sender", "recipients_to", "recipients_cc", "recipients_bcc", "reply_to", "keywords")
    messages = _table(
        "messages", "uid", "message_id", "subject", "size", "seen", "flagged", "answered", "draft", "deleted",
        "modseq", "preview", "text_body", "html_body", "has_attachments", "raw_blob_key", "in_reply_to",
        guids=("account_id", "mailbox_id", "thread_id"), times=("date", "internal_date"),
        json=(*json_columns, "attachments", "references", "parse_warnings"),
    )  # fmt: skip
    syncs = _table(
        "account_syncs", "phase", "folders_done", "folders_total", "messages_fetched", "messages_total",
        guids=("account_id",), times=("started_at", "finished_at"),
    )  # fmt: skip
    folder = {"tenant_id": Old.tenant, "account_id": Old.account, "delimiter": "/", "uidvalidity": 1700000000}
    synced = {"last_synced_at": T0, "created_at": T0, "updated_at": T0}
    async with engine.begin() as connection:
        await connection.execute(
            mailboxes.insert(),
            [
                {"id": Old.inbox, "name": "INBOX", "role": "inbox", "last_uid": 2, "message_count": 2}
                | {"unread_count": 1} | folder | synced,
                {"id": Old.sent, "name": "Sent", "role": "sent", "last_uid": 1, "message_count": 1}
                | {"unread_count": 0} | folder | synced,
            ],
        )  # fmt: skip
        carol = ("Carol Jones", "carol@example.org")
        rows = [
            {"id": Old.budget}
            | _message(Old.inbox, 1, "Quarterly budget", carol, "Please bring the budget review notes on Thursday.")
            | {"seen": True, "flagged": True, "keywords": ["$Important"], "raw_blob_key": digest},
            {"id": Old.lunch} | _message(Old.inbox, 2, "Lunch friday?", ("Dan", "dan@example.net"), "Noodles?"),
            {"id": Old.reply}
            | _message(Old.sent, 1, "Re: Quarterly budget", ("Ada", "ada@acme.test"), "Notes attached tomorrow.")
            | {"seen": True},
        ]
        await connection.execute(messages.insert(), rows)
        await connection.execute(
            syncs.insert().values(
                id=new_id(), tenant_id=Old.tenant, account_id=Old.account, phase="idle", started_at=T0,
                finished_at=T0, folders_done=2, folders_total=2, messages_fetched=3, messages_total=3,
                created_at=T0, updated_at=T0,
            )
        )  # fmt: skip


async def _write_0006(engine: AsyncEngine) -> None:
    drafts = _table(
        "drafts", "status", "sender_name", "sender_address", "subject", "text_body", "html_body", "in_reply_to",
        "attempts", guids=("account_id",), json=("recipients_to", "recipients_cc", "recipients_bcc", "references",
        "attachments"),
    )  # fmt: skip
    async with engine.begin() as connection:
        await _in_scope(connection)
        await connection.execute(
            drafts.insert().values(
                id=Old.draft, tenant_id=Old.tenant, account_id=Old.account, status="draft", sender_name="Ada",
                sender_address="ada@acme.test", recipients_to=[{"name": "Carol", "address": "carol@example.org"}],
                recipients_cc=[], recipients_bcc=[], subject="Budget notes", text_body="Draft of the notes",
                html_body=None, in_reply_to="<1.quarterly@example.org>", references=["<1.quarterly@example.org>"],
                attachments=[], attempts=0, created_at=T0, updated_at=T0,
            )
        )  # fmt: skip


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.begin() as connection:
        await _in_scope(connection)
        return {t: (await connection.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in TABLES}


async def _populate_as_the_old_releases_did(engine: AsyncEngine, settings: Settings) -> None:
    await upgrade(engine, "0001")
    await _write_0001(engine, settings.keyring())
    await upgrade(engine, "0002")
    await _write_0002(engine, Path(settings.data_dir) / "blobs")
    await upgrade(engine, "0006")
    await _write_0006(engine)


async def test_an_old_database_upgraded_to_head_serves_its_mail(
    engine: AsyncEngine, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await _populate_as_the_old_releases_did(engine, settings)
    before = await _counts(engine)
    assert before == dict.fromkeys(TABLES, 1) | {"users": 2, "mailboxes": 2, "messages": 3}

    assert await migrate(settings) == 0
    assert await current_revision(engine) == head_revision()
    assert await migrate(settings) == 0, "a second `mailroom migrate` has nothing to do"
    assert await current_revision(engine) == head_revision()
    assert capsys.readouterr().out.count(f"database schema at revision {head_revision()}") == 2
    assert await _counts(engine) == before

    await _check_filled_in_columns(engine)
    async with AsyncTestClient(create_app(settings=settings)) as client:
        await _check_served(client)
    await _check_passwords_after_rotation(engine, settings, capsys)


async def _check_filled_in_columns(engine: AsyncEngine) -> None:
    """What later migrations added to existing rows: defaults, the first admin as owner (0019), the first sync
    taken as done (0016), and on Postgres the word pairs queued for the search index (0012)."""
    async with engine.begin() as connection:
        await _in_scope(connection)
        account = (await connection.execute(sa.text("SELECT * FROM mail_accounts"))).mappings().one()
        owner = await connection.scalar(
            sa.text("SELECT owner_id FROM mail_accounts").columns(sa.column("owner_id", GUID(length=16)))
        )
        sync = (await connection.execute(sa.text("SELECT * FROM account_syncs"))).mappings().one()
        disabled = (await connection.execute(sa.text("SELECT disabled FROM users"))).scalars().all()
        pending = None
        if connection.dialect.name == "postgresql":
            pending = await connection.scalar(sa.text("SELECT count(*) FROM message_word_pairs_pending"))
    assert owner == Old.admin
    assert (account["imap_auth"], account["smtp_auth"], account["sync_interval_seconds"]) == (
        "password",
        "password",
        300,
    )
    assert not account["server_saves_sent"]
    assert not sync["asked_again"]
    assert sync["first_synced_at"] == sync["finished_at"], "0016: an account synced before has had its first sync"
    assert disabled == [False, False]
    if pending is not None:
        assert pending == 3, "0012: every stored message waits for its word pairs"


async def _login(client: AsyncTestClient[Litestar], email: str) -> dict[str, str]:
    answer = await client.post("/api/auth/login", json={"tenant": "acme", "email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _search(client: AsyncTestClient[Litestar], headers: dict[str, str], **query: str) -> list[str]:
    answer = await client.get("/api/sync/search", params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    return [item["subject"] for item in answer.json()["items"]]


async def _check_served(client: AsyncTestClient[Litestar]) -> None:
    ada = await _login(client, "ada@acme.test")
    accounts = (await client.get("/api/accounts", headers=ada)).json()
    assert [(a["id"], a["email"], a["owner_id"]) for a in accounts["items"]] == [
        (str(Old.account), "ada@acme.test", str(Old.admin))
    ]
    folders = (await client.get(f"/api/accounts/{Old.account}/mailboxes", headers=ada)).json()["items"]
    assert sorted((f["name"], f["role"], f["total"], f["unread"]) for f in folders) == [
        ("INBOX", "inbox", 2, 1),
        ("Sent", "sent", 1, 0),
    ]
    listed = (await client.get(f"/api/accounts/{Old.account}/messages", headers=ada)).json()["items"]
    assert [m["subject"] for m in listed] == ["Lunch friday?", "Re: Quarterly budget", "Quarterly budget"]

    message = (await client.get(f"/api/messages/{Old.budget}", headers=ada)).json()
    assert message["subject"] == "Quarterly budget"
    assert message["text"] == "Please bring the budget review notes on Thursday."
    assert message["from"] == [{"name": "Carol Jones", "address": "carol@example.org"}]
    assert message["flags"] == {
        "seen": True,
        "flagged": True,
        "answered": False,
        "draft": False,
        "deleted": False,
        "keywords": ["$Important"],
    }
    raw = await client.get(f"/api/messages/{Old.budget}/raw", headers=ada)
    assert (raw.status_code, raw.content) == (200, RAW), "a blob key from before keys named their tenant"

    draft = (await client.get(f"/api/compose/{Old.draft}", headers=ada)).json()
    assert (draft["status"], draft["subject"], draft["text"]) == ("draft", "Budget notes", "Draft of the notes")

    assert await _search(client, ada, q="thursday") == ["Quarterly budget"]
    assert await _search(client, ada, q='"budget review"') == ["Quarterly budget"]
    assert await _search(client, ada, subject="lunch") == ["Lunch friday?"]

    bob = await _login(client, "bob@acme.test")
    assert (await client.get("/api/accounts", headers=bob)).json()["items"] == [], "0019: granted to the admin only"


async def _check_passwords_after_rotation(
    engine: AsyncEngine, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password sealed before binding is refused by the strict cipher (production's) until `mailroom keys
    rotate` seals it again, bound to its account and field."""
    strict = AesGcmCredentialCipher(settings.keyring())
    make_uow = SqlUnitOfWork(create_session_factory(engine))
    with RowLevelTenantScope().system():
        async with make_uow as uow:
            account = await uow.accounts.get(Old.tenant, Old.account)
        assert account is not None
        assert account.imap_password is not None
        assert AesGcmCredentialCipher(settings.keyring(), accept_unbound=True).decrypt(account.imap_password) == (
            IMAP_PASSWORD
        )
        with pytest.raises(DependencyUnavailable, match="keys rotate"):
            strict.decrypt(account.imap_password)
        assert await rotate_keys(settings) == 0
        assert "re-encrypted the passwords of 1 account(s)" in capsys.readouterr().out
        async with make_uow as uow:
            account = await uow.accounts.get(Old.tenant, Old.account)
    assert account is not None
    assert account.imap_password is not None
    assert account.smtp_password is not None
    assert strict.decrypt(account.imap_password) == strict.decrypt(account.smtp_password) == IMAP_PASSWORD


async def test_messages_stored_before_0005_are_found_by_their_addresses(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _populate_as_the_old_releases_did(engine, settings)
    assert await migrate(settings) == 0
    async with AsyncTestClient(create_app(settings=settings)) as client:
        ada = await _login(client, "ada@acme.test")
        found = [
            await _search(client, ada, q="carol"),
            await _search(client, ada, **{"from": "carol@example.org"}),
            await _search(client, ada, **{"from": "jones"}),
            await _search(client, ada, to="ada@acme.test", flagged="true"),
        ]
    assert found == [["Quarterly budget"]] * 4
