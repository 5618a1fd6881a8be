"""Rate limits on the API (per user) and on logins (per client address and per email)."""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from domain.limits import Limit, RateDecision, TooManyRequests, WindowCount
from domain.ports.runtime import RateCounter


@dataclass(frozen=True, slots=True)
class RateLimits:
    api: tuple[Limit, ...] = (Limit(60, 60), Limit(1000, 3600))
    login: tuple[Limit, ...] = (Limit(5, 60),)


class LimitRequests:
    """Counts a request against every window of its limits; raises TooManyRequests once one is exceeded."""

    def __init__(self, counter: RateCounter, limits: RateLimits) -> None:
        self._counter = counter
        self._limits = limits

    async def for_user(self, user_id: UUID) -> RateDecision:
        return await self._check(f"user:{user_id}", self._limits.api, "too many requests")

    async def for_login(self, client_address: str | None, email: str) -> None:
        """Against password guessing: per client address and per email, whichever runs out first."""
        if client_address:
            await self._check(f"login-ip:{client_address}", self._limits.login, "too many login attempts")
        await self._check(f"login-email:{email.strip().lower()}", self._limits.login, "too many login attempts")

    async def _check(self, key: str, limits: Sequence[Limit], message: str) -> RateDecision:
        counts = await self._counter.hit(key, [limit.window_seconds for limit in limits])
        decision = RateDecision(
            tuple(WindowCount(limit, used, resets_in) for limit, (used, resets_in) in zip(limits, counts, strict=True))
        )
        if not decision.allowed:
            raise TooManyRequests(message, decision)
        return decision
