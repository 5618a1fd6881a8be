from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.memory.mail import ScriptedImapLoginCheck, ScriptedMailSender
from application.accounts.commands import MailAccountChanges, ServerLoginChanges
from application.accounts.create import CreateMailAccount
from application.accounts.delete import DeleteMailAccount
from application.accounts.read import GetMailAccount, ListMailAccounts
from application.accounts.update import UpdateMailAccount
from application.accounts.verification import LoginVerifier
from domain.accounts import MailAccount, MailLogin, Security, ServerSettings, TransportPolicy
from domain.auth import Principal
from domain.errors import Conflict, InvalidInput, MailServerRejected, NotFound
from domain.pagination import PageRequest
from domain.tenants import Role
from tests.unit.fakes import Fakes, new_account, principal


def create(fakes: Fakes) -> CreateMailAccount:
    return CreateMailAccount(fakes.uow, fakes.cipher, fakes.clock, fakes.verifier, fakes.auditor, TransportPolicy())


def update(fakes: Fakes) -> UpdateMailAccount:
    return UpdateMailAccount(fakes.uow, fakes.cipher, fakes.clock, fakes.verifier, fakes.auditor, TransportPolicy())


async def add(fakes: Fakes, owner: Principal, email: str = "alice@example.com") -> MailAccount:
    return await create(fakes)(owner, new_account(email))


async def test_create_stores_the_account_with_encrypted_passwords() -> None:
    fakes, owner = Fakes(), principal()
    account = await add(fakes, owner)
    assert fakes.uow.committed
    stored = fakes.uow.store.accounts[account.id]
    assert stored.tenant_id == owner.tenant_id
    assert b"imap-secret" not in stored.imap_password.ciphertext
    assert fakes.cipher.decrypt(stored.imap_password) == "imap-secret"
    assert fakes.cipher.decrypt(stored.smtp_password) == "smtp-secret"


async def test_create_with_an_invalid_port_changes_nothing() -> None:
    fakes = Fakes()
    bad = new_account()
    bad = type(bad)(bad.name, bad.email, type(bad.imap)("imap.example.com", 0, Security.SSL, "a", "p"), bad.smtp)
    with pytest.raises(InvalidInput, match=r"imap\.port"):
        await create(fakes)(principal(), bad)
    assert fakes.uow.store.accounts == {}


async def test_the_same_email_twice_in_a_tenant_conflicts_whatever_its_case() -> None:
    fakes, owner = Fakes(), principal()
    await add(fakes, owner, "alice@example.com")
    with pytest.raises(Conflict):
        await add(fakes, owner, "ALICE@example.com")
    assert len(fakes.uow.store.accounts) == 1


async def test_another_tenant_may_use_the_same_email() -> None:
    fakes = Fakes()
    await add(fakes, principal())
    await add(fakes, principal())
    assert len(fakes.uow.store.accounts) == 2


async def test_verify_logs_in_to_both_servers_before_saving() -> None:
    fakes = Fakes()
    fakes.servers.accept("imap.example.com", "alice", "imap-secret")
    fakes.servers.accept("smtp.example.com", "alice", "smtp-secret")
    await create(fakes)(principal(), new_account(), verify=True)
    assert [a[0] for a in fakes.servers.attempts] == ["imap", "smtp"]


async def test_a_refused_verification_saves_nothing() -> None:
    fakes = Fakes()
    with pytest.raises(MailServerRejected, match="authentication failed"):
        await create(fakes)(principal(), new_account(), verify=True)
    assert fakes.uow.store.accounts == {}


async def test_another_tenants_account_is_not_found_for_every_action() -> None:
    fakes, owner, stranger = Fakes(), principal(), principal()
    account = await add(fakes, owner)
    with pytest.raises(NotFound):
        await GetMailAccount(fakes.uow)(stranger, account.id)
    with pytest.raises(NotFound):
        await update(fakes)(stranger, account.id, MailAccountChanges(name="Mine now"))
    with pytest.raises(NotFound):
        await DeleteMailAccount(fakes.uow, fakes.auditor)(stranger, account.id)
    assert (await ListMailAccounts(fakes.uow)(stranger, PageRequest())).total == 0
    assert fakes.uow.store.accounts[account.id].name == "Work"


async def test_list_pages_through_the_tenants_accounts_oldest_first() -> None:
    fakes, owner = Fakes(), principal()
    for n in range(5):
        await add(fakes, owner, f"user{n}@example.com")
        fakes.clock.advance(timedelta(seconds=1))
    await add(fakes, principal(), "other@example.com")
    page = await ListMailAccounts(fakes.uow)(owner, PageRequest(limit=2, offset=2))
    assert page.total == 5
    assert [a.email for a in page.items] == ["user2@example.com", "user3@example.com"]


async def test_patch_changes_only_the_given_fields_and_keeps_passwords() -> None:
    fakes, owner = Fakes(), principal()
    account = await add(fakes, owner)
    fakes.clock.advance(timedelta(minutes=5))
    changes = MailAccountChanges(name="Personal", smtp=ServerLoginChanges(username="alice"))
    updated = await update(fakes)(owner, account.id, changes)
    assert (updated.name, updated.email, updated.smtp) == ("Personal", "alice@example.com", account.smtp)
    assert updated.imap == account.imap
    assert updated.updated_at > account.updated_at == updated.created_at
    assert fakes.cipher.decrypt(updated.imap_password) == "imap-secret"
    assert fakes.cipher.decrypt(updated.smtp_password) == fakes.cipher.decrypt(account.smtp_password)


async def test_a_changed_server_needs_its_password_again_and_changes_nothing_without_it() -> None:
    fakes, owner = Fakes(), principal()
    account = await add(fakes, owner)
    changes = MailAccountChanges(name="Personal", imap=ServerLoginChanges(port=143, security=Security.STARTTLS))
    with pytest.raises(InvalidInput) as refused:
        await update(fakes)(owner, account.id, changes, verify=True)
    assert refused.value.field == "imap.password"
    assert fakes.uow.store.accounts[account.id] == account
    assert fakes.servers.attempts == []


async def test_a_changed_server_takes_the_password_given_with_it() -> None:
    fakes, owner = Fakes(), principal()
    account = await add(fakes, owner)
    fakes.clock.advance(timedelta(minutes=5))
    changes = MailAccountChanges(
        name="Personal", imap=ServerLoginChanges(port=143, security=Security.STARTTLS, password="imap-new")
    )
    updated = await update(fakes)(owner, account.id, changes)
    assert (updated.name, updated.email, updated.imap.port, updated.imap.security) == (
        "Personal",
        "alice@example.com",
        143,
        Security.STARTTLS,
    )
    assert updated.smtp == account.smtp
    assert updated.updated_at > account.updated_at == updated.created_at
    assert fakes.cipher.decrypt(updated.imap_password) == "imap-new"


async def test_a_new_password_is_stored_encrypted() -> None:
    fakes, owner = Fakes(), principal()
    account = await add(fakes, owner)
    await update(fakes)(owner, account.id, MailAccountChanges(smtp=ServerLoginChanges(password="new-smtp")))
    assert fakes.cipher.decrypt(fakes.uow.store.accounts[account.id].smtp_password) == "new-smtp"


async def test_verify_on_update_uses_the_stored_password_when_none_is_given() -> None:
    fakes, owner = Fakes(), principal()
    account = await add(fakes, owner)
    fakes.servers.accept("imap.example.com", "alice", "imap-secret")
    fakes.servers.accept("smtp.example.com", "alice", "smtp-secret")
    await update(fakes)(owner, account.id, MailAccountChanges(name="Checked"), verify=True)
    assert fakes.uow.store.accounts[account.id].name == "Checked"


async def test_an_invalid_patch_changes_nothing() -> None:
    fakes, owner = Fakes(), principal()
    account = await add(fakes, owner)
    with pytest.raises(InvalidInput, match=r"smtp\.host"):
        await update(fakes)(owner, account.id, MailAccountChanges(smtp=ServerLoginChanges(host="bad host")))
    assert fakes.uow.store.accounts[account.id].smtp.host == "smtp.example.com"


async def test_delete_removes_the_account() -> None:
    fakes, owner = Fakes(), principal()
    account = await add(fakes, owner)
    await DeleteMailAccount(fakes.uow, fakes.auditor)(owner, account.id)
    with pytest.raises(NotFound):
        await GetMailAccount(fakes.uow)(owner, account.id)


def test_passwords_never_show_in_command_reprs() -> None:
    assert "imap-secret" not in repr(new_account())
    assert "x-secret" not in repr(ServerLoginChanges(password="x-secret"))


async def test_a_deployment_without_plaintext_refuses_security_none_and_stores_nothing() -> None:
    fakes, owner = Fakes(), principal()
    strict = TransportPolicy(allow_plaintext=False)
    plain = replace(new_account(), smtp=replace(new_account().smtp, security=Security.NONE))
    with pytest.raises(InvalidInput) as refused:
        await CreateMailAccount(fakes.uow, fakes.cipher, fakes.clock, fakes.verifier, fakes.auditor, strict)(
            owner, plain
        )
    assert refused.value.field == "smtp.security"
    assert fakes.uow.store.accounts == {}
    account = await add(fakes, owner)
    to_plain = MailAccountChanges(imap=ServerLoginChanges(security=Security.NONE, port=143, password="imap-secret"))
    with pytest.raises(InvalidInput) as refused:
        await UpdateMailAccount(fakes.uow, fakes.cipher, fakes.clock, fakes.verifier, fakes.auditor, strict)(
            owner, account.id, to_plain
        )
    assert refused.value.field == "imap.security"
    assert fakes.uow.store.accounts[account.id] == account


class _ChangingDuringVerify(ScriptedImapLoginCheck):
    """While the update logs in to check the servers, another request commits a new host and password."""

    def __init__(self, fakes: Fakes, account: MailAccount) -> None:
        super().__init__(fakes.servers)
        self._fakes, self._account = fakes, account

    async def verify_login(self, server: ServerSettings, login: MailLogin) -> None:
        other = MailAccountChanges(imap=ServerLoginChanges(host="imap.good.example", password="victims-new"))
        await update(self._fakes)(principal_of(self._account), self._account.id, other)


def principal_of(account: MailAccount) -> Principal:
    return Principal(user_id=account.id, tenant_id=account.tenant_id, role=Role.ADMIN)


async def test_an_update_over_servers_changed_meanwhile_is_a_conflict_and_mixes_nothing() -> None:
    fakes = Fakes()
    account = await add(fakes, principal())
    fakes.servers.accept("smtp.example.com", "alice", "smtp-secret")
    racing = UpdateMailAccount(
        fakes.uow,
        fakes.cipher,
        fakes.clock,
        LoginVerifier(_ChangingDuringVerify(fakes, account), ScriptedMailSender(fakes.servers)),
        fakes.auditor,
    )
    with pytest.raises(Conflict):
        await racing(principal_of(account), account.id, MailAccountChanges(name="Renamed"), verify=True)
    stored = fakes.uow.store.accounts[account.id]
    assert (stored.name, stored.imap.host) == ("Work", "imap.good.example")
    assert fakes.cipher.decrypt(stored.imap_password) == "victims-new"
