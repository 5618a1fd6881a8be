"""Rate limits on the API (per user) and on failed logins (per client address and per account)."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.auth import Principal
from domain.errors import InvalidInput
from domain.limits import Limit, LoginCounts, LoginLimits, RateDecision, TooManyRequests, WindowCount, client_bucket
from domain.ports.runtime import Clock, RateCounter
from domain.tenants import normalise_email, require_slug


@dataclass(frozen=True, slots=True)
class RateLimits:
    api: tuple[Limit, ...] = (Limit(60, 60), Limit(1000, 3600))
    login: LoginLimits = field(default_factory=LoginLimits)


class LoginAttempt:
    """A login attempt, counted as failed until `withdraw` takes the count back."""

    def __init__(self, counter: RateCounter, counted: Sequence[tuple[str, Sequence[Limit]]], at: int) -> None:
        self._counter = counter
        self._counted = counted
        self._at = at

    async def withdraw(self) -> None:
        """Its password was right, or it was refused without being checked: it was no failed guess."""
        for key, limits in self._counted:
            await self._counter.hit(key, [limit.window_seconds for limit in limits], self._at, -1)


class LimitRequests:
    """Counts a request against every window of its limits; raises TooManyRequests once one is exceeded."""

    def __init__(self, counter: RateCounter, limits: RateLimits, clock: Clock) -> None:
        self._counter = counter
        self._limits = limits
        self._clock = clock

    async def for_caller(self, principal: Principal) -> RateDecision:
        """Each API key counts on its own, apart from its user's sessions: one busy automation does not lock its
        user out, nor does a user share a budget with every key they made."""
        bucket = f"key:{principal.key_id}" if principal.key_id else f"user:{principal.user_id}"
        decision = await self._count(bucket, self._limits.api, self._now())
        if not decision.allowed:
            raise TooManyRequests("too many requests", decision)
        return decision

    async def for_login(self, client_address: str | None, tenant_slug: str, email: str) -> LoginAttempt:
        """Counts the attempt as a failure before its password is looked at, so that attempts made at the same
        time see each other and a burst of guesses cannot slip past the limit; a right password takes it back
        (LoginAttempt.withdraw), and so does a refusal, which checked nothing. The rule is LoginCounts.refusal."""
        limits, at = self._limits.login, self._now()
        client = client_bucket(client_address) if client_address else None
        account = _account_key(tenant_slug, email)
        keys = (
            (client and f"login-client:{client}", limits.failures),
            (account and f"login-account:{account}", limits.failures),
            (client and account and f"login-client-account:{client}:{account}", limits.under_attack),
        )
        counted = [(key, key_limits) for key, key_limits in keys if key]
        decisions = [await self._count(key, key_limits, at) if key else None for key, key_limits in keys]
        attempt = LoginAttempt(self._counter, counted, at)
        refusal = LoginCounts(*decisions).refusal()
        if refusal is not None:
            await attempt.withdraw()
            raise TooManyRequests("too many failed logins", refusal)
        return attempt

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    async def _count(self, key: str, limits: Sequence[Limit], at: int) -> RateDecision:
        counts = await self._counter.hit(key, [limit.window_seconds for limit in limits], at)
        return RateDecision(
            tuple(WindowCount(limit, used, resets_in) for limit, (used, resets_in) in zip(limits, counts, strict=True))
        )


def _account_key(tenant_slug: str, email: str) -> str | None:
    """The account a login names, as the look-up reads it; None when the tenant or the email is malformed and so
    can name no account (such a failure counts against the client address only)."""
    try:
        return f"{require_slug(tenant_slug)}/{normalise_email(email)}"
    except InvalidInput:
        return None
