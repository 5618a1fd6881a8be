from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.crypto.keyring import Keyring
from application.accounts.create import CreateMailAccount
from application.accounts.rotate_keys import RotateEncryptionKeys
from domain.audit import AuditAction
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
