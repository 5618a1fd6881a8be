from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from domain.auth import IssuedToken, TokenClaims
from domain.errors import AuthenticationFailed
from domain.ports.runtime import Clock
from domain.ports.security import TokenIssuer
from domain.tenants import Role

_ALGORITHM = "HS256"
_REQUIRED = ["sub", "tenant", "role", "sid", "iat", "nbf", "exp", "iss", "aud"]
_OPTIONS: jwt.types.Options = {
    "require": _REQUIRED,
    "verify_exp": False,  # exp, nbf and iat are checked against the Clock port below
    "verify_nbf": False,
    "verify_iat": False,
}


@dataclass(frozen=True, slots=True)
class JwtConfig:
    secret: str = field(repr=False)
    issuer: str
    audience: str
    lifetime: timedelta


class JwtTokenIssuer(TokenIssuer):
    """HS256 access tokens checked as RFC 8725 advises: one pinned algorithm, iss, aud, exp and nbf. A token
    carries its user's role and session (`sid`), so a request is authenticated without the database; a role change
    ends the user's sessions, and an ended session is refused through the revocation list (RevokedSessions)."""

    def __init__(self, config: JwtConfig, clock: Clock, leeway: timedelta = timedelta(seconds=10)) -> None:
        self._config = config
        self._clock = clock
        self._leeway = leeway

    def issue(self, user_id: UUID, tenant_id: UUID, role: Role, session_id: UUID) -> IssuedToken:
        now = self._clock.now()
        claims = {
            "sub": str(user_id),
            "tenant": str(tenant_id),
            "role": role.value,
            "sid": str(session_id),
            "iat": now,
            "nbf": now,
            "exp": now + self._config.lifetime,
            "iss": self._config.issuer,
            "aud": self._config.audience,
        }
        token = jwt.encode(claims, self._config.secret, algorithm=_ALGORITHM)
        return IssuedToken(access_token=token, expires_in=int(self._config.lifetime.total_seconds()))

    def verify(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._config.secret,
                algorithms=[_ALGORITHM],
                audience=self._config.audience,
                issuer=self._config.issuer,
                options=_OPTIONS,
            )
            self._check_time_window(
                _numeric_date(claims["iat"]), _numeric_date(claims["nbf"]), _numeric_date(claims["exp"])
            )
            return TokenClaims(
                user_id=UUID(claims["sub"]),
                tenant_id=UUID(claims["tenant"]),
                role=Role(claims["role"]),
                session_id=UUID(claims["sid"]),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError):
            raise AuthenticationFailed("invalid or expired token") from None

    def _check_time_window(self, issued: int, not_before: int, expires: int) -> None:
        """exp and nbf are checked against the injected clock (pyjwt would read the wall clock). A token lives at
        most the configured lifetime from when it was issued, whatever its own exp says: a stolen token whose
        session nobody ended is bounded by that lifetime alone."""
        now = self._clock.now().timestamp()
        leeway = self._leeway.total_seconds()
        if now >= expires + leeway or now < not_before - leeway or now < issued - leeway:
            raise AuthenticationFailed("invalid or expired token")
        if expires - min(issued, not_before) > self._config.lifetime.total_seconds() + leeway:
            raise AuthenticationFailed("invalid or expired token")


def _numeric_date(value: object) -> int:
    """RFC 7519 NumericDate as this issuer writes it: whole seconds. pyjwt lets through strings such as "inf"
    when its own time checks are off, and float("inf") never expires."""
    if type(value) is not int:
        raise AuthenticationFailed("invalid or expired token")
    return value
