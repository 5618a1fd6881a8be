"""The rule for users' own passwords (NIST SP 800-63B section 5.1.1.2): long enough, and not one that attackers
try first. Length beats composition rules, so there are none of those."""

import gzip
from functools import cache
from importlib.resources import files

from domain.errors import InvalidInput

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


@cache
def _common() -> frozenset[str]:
    data = files("domain").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def require_good_password(password: str, field: str = "password", *, email: str | None = None) -> str:
    """Refuses a password shorter than MIN_PASSWORD_LENGTH, one of the 30,000 most common (compared ignoring
    case), one character repeated, or the user's own email address or its local part."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.lower()
    if folded in _common() or len(set(folded)) == 1:
        raise InvalidInput(field, "is one of the most common passwords; choose another")
    if email and folded in (email.lower(), email.lower().partition("@")[0]):
        raise InvalidInput(field, "must not be your email address")
    return password
