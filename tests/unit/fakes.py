"""A ready set of fakes for use-case tests, and helpers to make tenants and principals."""

from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from adapters.auth.revocations import LocalRevokedSessions
from adapters.limits.in_process import InProcessRateCounter
from adapters.memory.mail import ScriptedImapLoginCheck, ScriptedMailSender, ScriptedMailServers
from adapters.memory.runtime import ManualClock
from adapters.memory.security import OpaqueTokenIssuer, PlainPasswordHasher, ReversibleCipher
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.accounts.commands import NewMailAccount, ServerLogin
from application.accounts.logins import MailLogins
from application.accounts.verification import LoginVerifier
from application.audit import Auditor
from application.auth.sessions import Sessions
from application.limits import LimitRequests, RateLimits
from domain.accounts import Security
from domain.audit import RequestOrigin
from domain.auth import Principal
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.tenants import Role, Tenant, User


@dataclass
class Fakes:
    uow: MemoryUnitOfWork = field(default_factory=MemoryUnitOfWork)
    cipher: ReversibleCipher = field(default_factory=ReversibleCipher)
    clock: ManualClock = field(default_factory=ManualClock)
    hasher: PlainPasswordHasher = field(default_factory=PlainPasswordHasher)
    servers: ScriptedMailServers = field(default_factory=ScriptedMailServers)
    tokens: OpaqueTokenIssuer = field(default_factory=OpaqueTokenIssuer)
    limits: LimitRequests = field(init=False)
    revoked: LocalRevokedSessions = field(init=False)

    def __post_init__(self) -> None:
        self.limits = LimitRequests(InProcessRateCounter(), RateLimits(), self.clock)
        self.revoked = LocalRevokedSessions(self.clock, timedelta(minutes=16))

    @property
    def sessions(self) -> Sessions:
        return Sessions(self.tokens, self.revoked, self.clock)

    @property
    def auditor(self) -> Auditor:
        return Auditor(RequestOrigin("test-request", "192.0.2.1"), self.clock)

    @property
    def logins(self) -> MailLogins:
        return MailLogins(self.uow, self.cipher, self.clock)

    @property
    def verifier(self) -> LoginVerifier:
        return LoginVerifier(ScriptedImapLoginCheck(self.servers), ScriptedMailSender(self.servers))


def principal(role: Role = Role.MEMBER, fakes: "Fakes | None" = None, tenant_id: UUID | None = None) -> Principal:
    """A caller; given `fakes`, also stored as a user of its tenant (what a webhook's dispatch reads of its
    maker)."""
    who = Principal(user_id=new_id(), tenant_id=tenant_id or new_id(), role=role)
    if fakes is not None:
        store = fakes.uow.store
        store.tenants.setdefault(who.tenant_id, Tenant(who.tenant_id, f"t{who.tenant_id.hex[:8]}", "Tenant"))
        store.users[who.user_id] = User(who.user_id, who.tenant_id, f"{who.user_id.hex[:8]}@t.test", "", role)
    return who


def new_account(email: str = "alice@example.com", password: str = "imap-secret") -> NewMailAccount:  # noqa: S107
    return NewMailAccount(
        name="Work",
        email=email,
        imap=ServerLogin("imap.example.com", 993, Security.SSL, "alice", password),
        smtp=ServerLogin("smtp.example.com", 465, Security.SSL, "alice", "smtp-secret"),
    )


async def stored_admin(uow: UnitOfWork, tenant_id: UUID) -> Principal:
    """An admin of the tenant, stored in `uow`'s store: the accounts they create are theirs, and a SQL store wants
    an account's owner to exist (mail_accounts.owner_id refers to users)."""
    user = User(new_id(), tenant_id, f"admin-{new_id().hex[:12]}@example.test", "-", Role.ADMIN)
    async with uow:
        await uow.users.add(user)
        await uow.commit()
    return Principal(user.id, tenant_id, Role.ADMIN)
