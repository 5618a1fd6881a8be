"""Rate limits: how many requests a key may make in a window (fixed windows, RFC 9110 `Retry-After`), and the
rule for failed logins."""

import ipaddress
from dataclasses import dataclass

from domain.errors import DomainError


@dataclass(frozen=True, slots=True)
class Limit:
    requests: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class WindowCount:
    """The requests counted so far in the current window of a limit (this one included), and when it resets."""

    limit: Limit
    used: int
    resets_in: int

    @property
    def remaining(self) -> int:
        return max(self.limit.requests - self.used, 0)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit.requests


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Every window's count; the tightest one is what a client is told (`RateLimit-*` headers)."""

    windows: tuple[WindowCount, ...]

    @property
    def allowed(self) -> bool:
        return not any(w.exceeded for w in self.windows)

    @property
    def tightest(self) -> WindowCount:
        exceeded = [w for w in self.windows if w.exceeded]
        if exceeded:
            return max(exceeded, key=lambda w: w.resets_in)
        return min(self.windows, key=lambda w: (w.remaining, w.resets_in))

    @property
    def policy(self) -> str:
        return ", ".join(f"{w.limit.requests};w={w.limit.window_seconds}" for w in self.windows)


class TooManyRequests(DomainError):
    def __init__(self, message: str, decision: RateDecision) -> None:
        super().__init__(message)
        self.decision = decision

    @property
    def retry_after(self) -> int:
        return max(self.decision.tightest.resets_in, 1)


def client_bucket(address: str) -> str:
    """What a client address is counted as: an IPv6 client by its /64, the size of one subnet (RFC 4291 section
    2.5.4), in which a host may take any address it likes (RFC 8981); an IPv4-mapped address as the IPv4 one."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failed logins allowed per client address and per account (tenant and email) in each window, and how many
    times an address may fail on an account that is past its limit.

    Only failures count, and an account past its limit stays open to the addresses that have not been guessing at
    it: closing it to everyone would let anyone lock its user out with wrong passwords. Past that limit, each
    further guess at the account costs the attacker a fresh address (a fresh /64 in IPv6), whose failures also
    count against that address on every account."""

    failures: tuple[Limit, ...] = (Limit(5, 60), Limit(30, 3600))
    retries_under_attack: int = 2

    @property
    def under_attack(self) -> tuple[Limit, ...]:
        """An address's failures on one account, over the longest window."""
        return (Limit(self.retries_under_attack, max(limit.window_seconds for limit in self.failures)),)


@dataclass(frozen=True, slots=True)
class LoginCounts:
    """The failed logins counted so far, the attempt being made included: per client address, per account, and per
    address on that account. A key is None where the attempt has none (no client address; a tenant or an email
    that cannot name any account)."""

    client: RateDecision | None
    account: RateDecision | None
    client_on_account: RateDecision | None

    def refusal(self) -> RateDecision | None:
        """The count that refuses the attempt before its password is looked at, or None to check the password.

        A client past its own limit is refused on every account, even with the right password, or a guesser would
        learn that it guessed right. An account past its limit refuses the addresses that have failed on it
        `retries_under_attack` times, and every attempt that comes with no address; its user, trying from
        anywhere else, still gets in."""
        if self.client is not None and not self.client.allowed:
            return self.client
        if self.account is None or self.account.allowed:
            return None
        if self.client_on_account is None:
            return self.account
        if self.client_on_account.allowed:
            return None
        return min(self.account, self.client_on_account, key=lambda decision: decision.tightest.resets_in)
