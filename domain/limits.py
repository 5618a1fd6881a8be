"""Rate limits: how many requests a key may make in a window (fixed windows, RFC 9110 `Retry-After`)."""

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
