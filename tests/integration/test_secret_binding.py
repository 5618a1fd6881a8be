"""Stored mail passwords are bound to their account and field: a ciphertext copied into another row, or from the
IMAP into the SMTP column, no longer decrypts (AES-GCM associated data). Run on SQLite and Postgres, where such a
copy is one UPDATE away for anyone with write access to the table."""

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.crypto.keyring import Keyring
from adapters.persistence.database import create_session_factory
from adapters.persistence.models import MailAccountModel
from adapters.persistence.unit_of_work import SqlUnitOfWork
from application.accounts.create import CreateMailAccount
from application.accounts.rotate_keys import RotateEncryptionKeys
from domain.accounts import MailAccount
from domain.errors import DependencyUnavailable
from domain.ports.persistence import UnitOfWork
from tests.integration.conftest import migrated_engine
from tests.integration.test_persistence_contract import tenant
from tests.unit.fakes import Fakes, new_account, stored_admin

KEY_ENTRY = Keyring.generate_entry("k1")
CIPHER = AesGcmCredentialCipher(Keyring.parse(KEY_ENTRY))
LENIENT = AesGcmCredentialCipher(Keyring.parse(KEY_ENTRY), accept_unbound=True)


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(request.param, request, tmp_path) as engine:
        yield engine


@pytest.fixture
def make_uow(engine: AsyncEngine) -> Callable[[], UnitOfWork]:
    factory = create_session_factory(engine)
    return lambda: SqlUnitOfWork(factory)


async def _create(make_uow: Callable[[], UnitOfWork], email: str, password: str) -> MailAccount:
    fakes, owner = Fakes(), await tenant(make_uow, email.partition("@")[0])
    create = CreateMailAccount(make_uow(), CIPHER, fakes.clock, fakes.verifier, fakes.auditor)
    return await create(await stored_admin(make_uow(), owner.id), new_account(email, password=password))


async def _read(make_uow: Callable[[], UnitOfWork], account: MailAccount) -> MailAccount:
    async with make_uow() as uow:
        found = await uow.accounts.get(account.tenant_id, account.id)
    assert found is not None
    return found


async def test_a_password_copied_into_another_account_does_not_decrypt(
    engine: AsyncEngine, make_uow: Callable[[], UnitOfWork]
) -> None:
    victim = await _create(make_uow, "victim@example.com", "victims-secret")
    attacker = await _create(make_uow, "mallory@example.com", "mallorys-secret")
    assert CIPHER.decrypt((await _read(make_uow, victim)).imap_password) == "victims-secret"
    async with engine.begin() as connection:
        victims = (
            select(MailAccountModel.imap_password_ciphertext).where(MailAccountModel.id == victim.id).scalar_subquery()
        )
        await connection.execute(
            update(MailAccountModel).where(MailAccountModel.id == attacker.id).values(imap_password_ciphertext=victims)
        )
    with pytest.raises(DependencyUnavailable):
        CIPHER.decrypt((await _read(make_uow, attacker)).imap_password)


async def test_a_password_copied_from_the_imap_to_the_smtp_field_does_not_decrypt(
    engine: AsyncEngine, make_uow: Callable[[], UnitOfWork]
) -> None:
    account = await _create(make_uow, "alice@example.com", "imap-only")
    async with engine.begin() as connection:
        await connection.execute(
            update(MailAccountModel)
            .where(MailAccountModel.id == account.id)
            .values(smtp_password_ciphertext=MailAccountModel.imap_password_ciphertext)
        )
    with pytest.raises(DependencyUnavailable):
        CIPHER.decrypt((await _read(make_uow, account)).smtp_password)


async def test_rotation_binds_the_passwords_written_before_binding(
    engine: AsyncEngine, make_uow: Callable[[], UnitOfWork]
) -> None:
    account = await _create(make_uow, "alice@example.com", "old-secret")
    unbound = _encrypt_unbound("old-secret")
    async with engine.begin() as connection:
        await connection.execute(
            update(MailAccountModel).where(MailAccountModel.id == account.id).values(imap_password_ciphertext=unbound)
        )
    before = (await _read(make_uow, account)).imap_password
    with pytest.raises(DependencyUnavailable, match="mailroom keys rotate"):
        CIPHER.decrypt(before)
    assert (LENIENT.decrypt(before), LENIENT.is_current(before)) == ("old-secret", False)

    assert await RotateEncryptionKeys(make_uow(), LENIENT, Fakes().auditor)() == 1

    after = (await _read(make_uow, account)).imap_password
    assert (CIPHER.decrypt(after), CIPHER.is_current(after)) == ("old-secret", True)
    assert await RotateEncryptionKeys(make_uow(), LENIENT, Fakes().auditor)() == 0


async def test_an_unbound_password_copied_into_another_account_is_refused_by_default(
    engine: AsyncEngine, make_uow: Callable[[], UnitOfWork]
) -> None:
    """A ciphertext from before binding (a row not yet rotated, or a backup) is the one thing a copy could still
    use: outside rotation it is not read at all."""
    await _create(make_uow, "victim@example.com", "victims-secret")
    attacker = await _create(make_uow, "mallory@example.com", "mallorys-secret")
    async with engine.begin() as connection:
        await connection.execute(
            update(MailAccountModel)
            .where(MailAccountModel.id == attacker.id)
            .values(imap_password_ciphertext=_encrypt_unbound("victims-secret"))
        )
    with pytest.raises(DependencyUnavailable):
        CIPHER.decrypt((await _read(make_uow, attacker)).imap_password)


def _encrypt_unbound(plaintext: str) -> bytes:
    """As the cipher wrote secrets before they were bound: the key id alone as associated data."""
    key = Keyring.parse(KEY_ENTRY).keys["k1"]
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), b"k1")
