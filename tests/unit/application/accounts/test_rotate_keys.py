from dataclasses import replace

import pytest

from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.crypto.keyring import Keyring
from application.accounts.check_secrets import CheckStoredSecrets
from application.accounts.create import CreateMailAccount
from application.accounts.rotate_keys import RotateEncryptionKeys
from domain.audit import AuditAction
from domain.errors import DependencyUnavailable
from tests.unit.fakes import Fakes, new_account, principal


async def test_rotation_reencrypts_every_old_secret_with_the_current_key_in_batches() -> None:
    fakes = Fakes()
    old_entry, new_entry = Keyring.generate_entry("k1"), Keyring.generate_entry("k2")
    old = AesGcmCredentialCipher(Keyring.parse(old_entry))
    owner = principal()
    for n in range(5):
        await CreateMailAccount(fakes.uow, old, fakes.clock, fakes.verifier, fakes.auditor)(
            owner, new_account(f"u{n}@example.com")
        )

    both = AesGcmCredentialCipher(Keyring.parse(f"{new_entry},{old_entry}"))
    assert await RotateEncryptionKeys(fakes.uow, both, fakes.auditor, batch_size=2)() == 5

    accounts = fakes.uow.store.accounts.values()
    assert {(a.imap_password.key_id, a.smtp_password.key_id) for a in accounts} == {("k2", "k2")}
    only_new = AesGcmCredentialCipher(Keyring.parse(new_entry))
    assert {only_new.decrypt(a.imap_password) for a in accounts} == {"imap-secret"}
    assert await RotateEncryptionKeys(fakes.uow, both, fakes.auditor)() == 0
    rotated = [e for e in fakes.uow.store.audit.values() if e.action is AuditAction.KEYS_ROTATED]
    assert sorted(e.target or "" for e in rotated) == sorted(str(a.id) for a in accounts)
    assert {e.tenant_id for e in rotated} == {owner.tenant_id}


async def test_the_stored_secrets_check_fails_on_a_wrong_key_under_a_known_id() -> None:
    fakes, owner = Fakes(), principal()
    right = AesGcmCredentialCipher(Keyring.parse(Keyring.generate_entry("k1")))
    await CreateMailAccount(fakes.uow, right, fakes.clock, fakes.verifier, fakes.auditor)(owner, new_account())
    assert await CheckStoredSecrets(fakes.uow, right)() == ["k1"]

    wrong = AesGcmCredentialCipher(Keyring.parse(Keyring.generate_entry("k1")))
    assert wrong.decrypt(wrong.encrypt("probe", "anywhere")) == "probe"  # what `check` used to prove
    with pytest.raises(DependencyUnavailable, match="'k1'"):
        await CheckStoredSecrets(fakes.uow, wrong)()


async def test_the_stored_secrets_check_passes_with_no_accounts() -> None:
    cipher = AesGcmCredentialCipher(Keyring.parse(Keyring.generate_entry("k1")))
    assert await CheckStoredSecrets(Fakes().uow, cipher)() == []


async def test_one_damaged_secret_does_not_fail_the_check_while_others_under_its_key_decrypt() -> None:
    fakes, owner = Fakes(), principal()
    cipher = AesGcmCredentialCipher(Keyring.parse(Keyring.generate_entry("k1")))
    create = CreateMailAccount(fakes.uow, cipher, fakes.clock, fakes.verifier, fakes.auditor)
    damaged = await create(owner, new_account("a@example.com"))
    await create(owner, new_account("b@example.com"))
    fakes.uow.store.accounts[damaged.id].imap_password = replace(damaged.imap_password, ciphertext=b"\0" * 40)
    assert await CheckStoredSecrets(fakes.uow, cipher)() == ["k1"]
