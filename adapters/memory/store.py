from dataclasses import dataclass, field
from uuid import UUID

from domain.accounts import MailAccount
from domain.tenants import Tenant, User


@dataclass
class MemoryStore:
    """What an in-memory deployment holds; one instance is shared by every unit of work of an app."""

    tenants: dict[UUID, Tenant] = field(default_factory=dict)
    users: dict[UUID, User] = field(default_factory=dict)
    accounts: dict[UUID, MailAccount] = field(default_factory=dict)

    def snapshot(self) -> "MemoryStore":
        return MemoryStore(dict(self.tenants), dict(self.users), dict(self.accounts))

    def restore(self, other: "MemoryStore") -> None:
        self.tenants, self.users, self.accounts = other.tenants, other.users, other.accounts
