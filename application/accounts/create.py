from application.accounts.commands import NewMailAccount
from application.accounts.verification import LoginVerifier
from application.audit import Auditor
from domain.accounts import PLAINTEXT_ALLOWED, MailAccount, TransportPolicy, secret_binding
from domain.audit import AuditAction
from domain.auth import Principal
from domain.errors import Conflict
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import CredentialCipher


class CreateMailAccount:
    def __init__(
        self,
        uow: UnitOfWork,
        cipher: CredentialCipher,
        clock: Clock,
        verifier: LoginVerifier,
        auditor: Auditor,
        transport: TransportPolicy = PLAINTEXT_ALLOWED,
    ) -> None:
        self._uow = uow
        self._cipher = cipher
        self._clock = clock
        self._verifier = verifier
        self._auditor = auditor
        self._transport = transport

    async def __call__(self, principal: Principal, new: NewMailAccount, *, verify: bool = False) -> MailAccount:
        details = new.details()
        self._transport.check(details)
        if verify:
            await self._verifier(details.imap, new.imap.password, details.smtp, new.smtp.password)
        now, account_id = self._clock.now(), new_id()
        account = MailAccount(
            id=account_id,
            tenant_id=principal.tenant_id,
            name=details.name,
            email=details.email,
            imap=details.imap,
            smtp=details.smtp,
            sync_interval_seconds=details.sync_interval_seconds,
            server_saves_sent=details.server_saves_sent,
            aliases=details.aliases,
            imap_password=self._cipher.encrypt(new.imap.password, secret_binding(account_id, "imap_password")),
            smtp_password=self._cipher.encrypt(new.smtp.password, secret_binding(account_id, "smtp_password")),
            created_at=now,
            updated_at=now,
            owner_id=principal.user_id,
        )
        async with self._uow as uow:
            if await uow.accounts.email_taken(principal.tenant_id, account.email):
                raise Conflict(f"an account for {account.email} already exists")
            await uow.accounts.add(account)
            await self._auditor.record(
                uow, AuditAction.ACCOUNT_CREATED, principal.tenant_id, principal.user_id, account.id
            )
            await uow.commit()
        return account
