import asyncio
from collections.abc import Sequence

import pytest

from adapters.limits.in_process import InProcessRateCounter
from adapters.memory.tenant_scope import RecordingTenantScope
from application.auth.authenticate import Authenticate
from application.auth.login import Login
from application.limits import LimitRequests, RateLimits
from application.users.register import NewUser, RegisterUser
from domain.errors import AuthenticationFailed, Conflict, InvalidInput, PermissionDenied
from domain.ids import new_id
from domain.limits import TooManyRequests
from domain.tenants import Role, Tenant, User
from tests.unit.fakes import Fakes


class CountingHasher:
    def __init__(self, fakes: Fakes) -> None:
        self.inner, self.hashes = fakes.hasher, 0

    async def hash(self, password: str) -> str:
        self.hashes += 1
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> bool:
        self.hashes += 1
        return await self.inner.verify(password, password_hash)


async def register(
    fakes: Fakes, tenant: str = "acme", email: str = "alice@acme.test", role: Role | None = None
) -> tuple[Tenant, User]:
    return await RegisterUser(fakes.uow, fakes.hasher, fakes.clock)(NewUser(tenant, email, "long-password-1", role))


async def test_the_first_user_of_a_new_tenant_is_its_admin_and_later_ones_members() -> None:
    fakes = Fakes()
    tenant, first = await register(fakes)
    same_tenant, second = await register(fakes, email="bob@acme.test")
    assert (first.role, second.role) == (Role.ADMIN, Role.MEMBER)
    assert same_tenant.id == tenant.id
    assert first.password_hash != "long-password-1"


async def test_a_login_email_is_unique_within_its_tenant_only() -> None:
    fakes = Fakes()
    await register(fakes)
    with pytest.raises(Conflict):
        await register(fakes, email="ALICE@acme.test")
    await register(fakes, tenant="globex")
    assert len(fakes.uow.store.users) == 2


async def test_short_passwords_are_refused() -> None:
    fakes = Fakes()
    with pytest.raises(InvalidInput, match="password"):
        await RegisterUser(fakes.uow, fakes.hasher, fakes.clock)(NewUser("acme", "a@acme.test", "short"))
    assert fakes.uow.store.tenants == {}


async def test_login_starts_a_session_for_the_user_and_tenant() -> None:
    fakes = Fakes()
    tenant, user = await register(fakes)
    signed_in = await Login(fakes.uow, fakes.hasher, fakes.sessions, fakes.limits, fakes.auditor)(
        "acme", "Alice@Acme.test", "long-password-1"
    )
    claims = fakes.tokens.verify(signed_in.access.access_token)
    assert (claims.user_id, claims.tenant_id, claims.role) == (user.id, tenant.id, Role.ADMIN)
    assert claims.session_id == signed_in.session_id in fakes.uow.store.sessions
    assert signed_in.refresh_token.startswith("mrr_")
    assert signed_in.refresh_token not in repr(signed_in)


@pytest.mark.parametrize(
    ("tenant", "email", "password"),
    [
        ("acme", "alice@acme.test", "wrong-password"),
        ("acme", "nobody@acme.test", "long-password-1"),
        ("globex", "alice@acme.test", "long-password-1"),
        ("Not A Slug", "alice@acme.test", "long-password-1"),
        ("acme", "not-an-email", "long-password-1"),
    ],
)
async def test_every_failed_login_looks_the_same_and_costs_one_hash(tenant: str, email: str, password: str) -> None:
    fakes = Fakes()
    await register(fakes)
    hasher = CountingHasher(fakes)
    with pytest.raises(AuthenticationFailed) as error:
        await Login(fakes.uow, hasher, fakes.sessions, fakes.limits, fakes.auditor)(tenant, email, password)
    assert error.value.message == "invalid tenant, email or password"
    assert hasher.hashes == 1


class RecordingCounter(InProcessRateCounter):
    def __init__(self) -> None:
        super().__init__()
        self.amounts: list[int] = []

    async def hit(self, key: str, windows: Sequence[int], at: int, amount: int = 1) -> list[tuple[int, int]]:
        self.amounts.append(amount)
        return await super().hit(key, windows, at, amount)


def login_use_case(fakes: Fakes, hasher: object | None = None, counter: InProcessRateCounter | None = None) -> Login:
    limits = LimitRequests(counter or InProcessRateCounter(), RateLimits(), fakes.clock)
    return Login(fakes.uow, hasher or fakes.hasher, fakes.sessions, limits, fakes.auditor)  # type: ignore[arg-type]


@pytest.mark.parametrize(("email", "password"), [("alice@acme.test", "wrong-password"), ("nobody@acme.test", "pw")])
async def test_an_unknown_user_and_a_wrong_password_are_counted_alike(email: str, password: str) -> None:
    """Per client address, per account and per address on the account, and nothing taken back."""
    fakes, counter = Fakes(), RecordingCounter()
    await register(fakes)
    with pytest.raises(AuthenticationFailed):
        await login_use_case(fakes, counter=counter)("acme", email, password, "198.51.100.1")
    assert counter.amounts == [1, 1, 1]


async def test_failures_through_a_tenant_that_does_not_exist_leave_the_real_account_alone() -> None:
    """Even with no client address to tell the user from the attacker, where a busy account refuses everyone."""
    fakes = Fakes()
    await register(fakes)
    login = login_use_case(fakes)
    for _ in range(10):
        with pytest.raises((AuthenticationFailed, TooManyRequests)):
            await login("acme-typo", "alice@acme.test", "long-password-1")
    await login("acme", "alice@acme.test", "long-password-1")
    with pytest.raises(TooManyRequests):
        await login("acme-typo", "alice@acme.test", "long-password-1")


class SlowHasher:
    """A hash that takes time, as a real one does, so that attempts made at once overlap."""

    def __init__(self, fakes: Fakes) -> None:
        self.inner = fakes.hasher

    async def hash(self, password: str) -> str:
        await asyncio.sleep(0.01)
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> bool:
        await asyncio.sleep(0.01)
        return await self.inner.verify(password, password_hash)


async def test_guesses_sent_at_once_get_no_more_checks_than_guesses_sent_one_by_one() -> None:
    fakes = Fakes()
    await register(fakes)
    login = login_use_case(fakes, SlowHasher(fakes))
    guesses = [login("acme", "alice@acme.test", f"guess-{n}", "203.0.113.7") for n in range(20)]
    outcomes = await asyncio.gather(*guesses, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes].count(AuthenticationFailed) == 5
    assert [type(outcome) for outcome in outcomes].count(TooManyRequests) == 15


async def test_a_database_failure_is_not_counted_as_a_failed_login() -> None:
    fakes = Fakes()
    await register(fakes)
    login = login_use_case(fakes)

    async def unavailable(slug: str) -> None:
        raise ConnectionError("database down")

    real = fakes.uow.tenants.get_by_slug
    fakes.uow.tenants.get_by_slug = unavailable  # type: ignore[method-assign,assignment]
    for _ in range(6):
        with pytest.raises(ConnectionError):
            await login("acme", "alice@acme.test", "long-password-1", "198.51.100.1")
    fakes.uow.tenants.get_by_slug = real  # type: ignore[method-assign]
    assert (await login("acme", "alice@acme.test", "long-password-1", "198.51.100.1")).access.access_token


def authenticate(fakes: Fakes, scope: RecordingTenantScope | None = None) -> Authenticate:
    return Authenticate(fakes.uow, fakes.tokens, fakes.revoked, scope or RecordingTenantScope(), fakes.clock)


async def test_an_access_token_is_checked_without_the_database_until_its_session_ends() -> None:
    fakes = Fakes()
    _, user = await register(fakes)
    signed_in = await login_use_case(fakes)("acme", "alice@acme.test", "long-password-1")
    fakes.uow.store.users.clear()  # no read of the user: the token and the revocation list are enough
    principal = await authenticate(fakes)(signed_in.access.access_token)
    assert (principal.user_id, principal.role, principal.session_id) == (user.id, Role.ADMIN, signed_in.session_id)
    await fakes.revoked.revoke([signed_in.session_id])
    with pytest.raises(AuthenticationFailed, match="ended"):
        await authenticate(fakes)(signed_in.access.access_token)


async def test_a_bad_token_reads_nothing() -> None:
    fakes, scope = Fakes(), RecordingTenantScope()
    await register(fakes)
    with pytest.raises(AuthenticationFailed):
        await authenticate(fakes, scope)("not-a-token-we-issued")
    assert scope.entered == []


async def test_x_tenant_id_must_name_the_tokens_tenant_by_id_or_slug() -> None:
    fakes = Fakes()
    tenant, user = await register(fakes)
    other, _ = await register(fakes, tenant="globex", email="eve@globex.test")
    token = fakes.tokens.issue(user.id, user.tenant_id, user.role, new_id()).access_token
    check = authenticate(fakes)
    assert (await check(token, str(tenant.id))).tenant_id == tenant.id
    assert (await check(token, "acme")).tenant_id == tenant.id
    for wrong in (str(other.id), "globex", "nonsense"):
        with pytest.raises(PermissionDenied):
            await check(token, wrong)
