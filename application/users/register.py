from dataclasses import dataclass, field

from domain.errors import Conflict
from domain.ids import new_id
from domain.passwords import require_good_password
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import PasswordHasher
from domain.tenants import Role, Tenant, User, normalise_email, require_slug


@dataclass(frozen=True, slots=True)
class NewUser:
    tenant_slug: str
    email: str
    password: str = field(repr=False)
    role: Role | None = None


class RegisterUser:
    """Creates a user, and its tenant when the slug is new.

    The first user of a new tenant is its admin unless a role is given; later users default to member.
    """

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock

    async def __call__(self, new: NewUser) -> tuple[Tenant, User]:
        slug = require_slug(new.tenant_slug)
        email = normalise_email(new.email)
        require_good_password(new.password, email=email)
        password_hash = await self._hasher.hash(new.password)
        async with self._uow as uow:
            tenant = await uow.tenants.get_by_slug(slug)
            is_new_tenant = tenant is None
            if tenant is None:
                tenant = Tenant(id=new_id(), slug=slug, name=slug)
                await uow.tenants.add(tenant)
            elif await uow.users.get_by_email(tenant.id, email) is not None:
                raise Conflict(f"{email} already has a login in tenant {slug}")
            default_role = Role.ADMIN if is_new_tenant else Role.MEMBER
            user = User(
                id=new_id(),
                tenant_id=tenant.id,
                email=email,
                password_hash=password_hash,
                role=new.role or default_role,
                created_at=self._clock.now(),
            )
            await uow.users.add(user)
            await uow.commit()
        return tenant, user
